"""Linear-probe golden for ShrinkEval's LinearProbe (Tests/ShrinkEvalTests/ImageTaskTests.swift): the same objective
(mean cross-entropy of softmax(W x + b) on features standardised by the train mean and population std, plus
lambda/2 ||W||^2, lambda = 1e-4, bias unpenalised) minimised by PyTorch's L-BFGS in float64 with a strong-Wolfe line
search to a gradient below 1e-8, on seeded synthetic data: 3 overlapping Gaussian classes in 8 dimensions, 600
train and 300 test rows. The optimum is unique (strictly convex), so Shrink must reach the same loss and weights.

Writes Tests/Fixtures/images/probe_golden.safetensors: train_x, test_x (F32), train_y, test_y (I64), weight (F64
[3, 8]), bias (F64 [3]), loss (F64 [1]), test_predictions (I64).
Usage: .venv-tools/bin/python tools/make_probe_golden.py
"""
import os

import numpy as np
import torch
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAMBDA = 1e-4


def data(rng, n, centres):
    y = rng.integers(0, len(centres), n)
    x = centres[y] + rng.standard_normal((n, centres.shape[1])) * np.linspace(0.5, 2.0, centres.shape[1])
    return (x * 3 + 1).astype(np.float32), y.astype(np.int64)


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(16101644)
    centres = rng.standard_normal((3, 8)) * 0.5
    train_x, train_y = data(rng, 600, centres)
    test_x, test_y = data(rng, 300, centres)
    x = torch.from_numpy(train_x.astype(np.float64))
    mean, std = x.mean(0), x.std(0, unbiased=False)
    xs = (x - mean) / std
    y = torch.from_numpy(train_y)
    w = torch.zeros(3, 8, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=2000, tolerance_grad=1e-12, tolerance_change=1e-15,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xs @ w.T + b, y) + 0.5 * LAMBDA * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    loss = closure()
    grad = max(w.grad.abs().max().item(), b.grad.abs().max().item())
    assert grad < 1e-8, grad
    xt = (torch.from_numpy(test_x.astype(np.float64)) - mean) / std
    pred = (xt @ w.T + b).argmax(1).numpy()
    out = {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y,
           "weight": w.detach().numpy(), "bias": b.detach().numpy(), "loss": np.array([loss.item()]),
           "test_predictions": pred.astype(np.int64)}
    path = os.path.join(ROOT, "Tests/Fixtures/images/probe_golden.safetensors")
    save_file(out, path, metadata={"source": "tools/make_probe_golden.py", "torch": torch.__version__})
    print(path, f"loss {loss.item():.12f}, test accuracy {(pred == test_y).mean():.4f}, max |grad| {grad:.2e}")


if __name__ == "__main__":
    main()
