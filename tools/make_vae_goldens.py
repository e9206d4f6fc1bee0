"""Parity goldens for Shrink's VAE family (Tests/ShrinkModelsTests/VAEParityTests.swift): the PyTorch reference
(tools/vae.py `ConvVAE`) run in float64 on the same weights, for the first 8 validation images of the fixed split
(tools/fashion_mnist.py; validation, so the test set stays for final figures).

Writes <model>/vae_golden.safetensors (not golden.safetensors: that name marks a reasoner fixture for ParityTests): indices (I64 [8], into the 60,000 train images), pixels (F32 [8, 784], u8/255),
mu and logvar (F64 [8, latent]), logits and reconstructions (F64 [8, 784], decoder at z = mu, sigmoid of logits),
neg_elbo, reconstruction_nats, kl_nats (F64 [8]), and flops (I64 [1]): torch.utils.flop_counter.FlopCounterMode over
one image encoded and decoded at z = mu (convolutions and matrix products, 2 per multiply-add; what VAEFamily counts).

Usage: .venv-tools/bin/python tools/make_vae_goldens.py Fixtures/models/vae_tiny64 Fixtures/models/vae_vision_puzzle
"""
import os
import sys

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402
import vae  # noqa: E402

COUNT = 8


def main():
    torch.set_num_threads(1)
    images, _ = fashion_mnist.load("train")
    _, validation = fashion_mnist.split(images.shape[0])
    indices = np.array(validation[:COUNT], dtype=np.int64)
    pixels = images[indices].astype(np.float32) / 255.0
    for folder in sys.argv[1:]:
        model, cfg = vae.load_model(folder)
        model = model.double()
        x = torch.from_numpy(pixels.astype(np.float64)).unsqueeze(1)
        with torch.no_grad():
            mu, logvar = model.encode(x)
            logits = model.decoder(mu)
            total, rec, kl = model.negative_elbo(x)
        n = pixels.shape[0]
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model.decoder(model.encode(x[:1])[0])
        flops = int(counter.get_total_flops())
        out = {
            "indices": indices,
            "pixels": pixels.reshape(n, -1),
            "mu": mu.numpy(), "logvar": logvar.numpy(),
            "logits": logits.reshape(n, -1).numpy(),
            "reconstructions": torch.sigmoid(logits).reshape(n, -1).numpy(),
            "neg_elbo": total.numpy(), "reconstruction_nats": rec.numpy(), "kl_nats": kl.numpy(),
            "flops": np.array([flops], dtype=np.int64),
        }
        save_file({k: np.ascontiguousarray(v) for k, v in out.items()}, os.path.join(folder, "vae_golden.safetensors"),
                  metadata={"source": "tools/make_vae_goldens.py", "torch": torch.__version__, "precision": "float64"})
        print(f"{folder}: golden for {n} validation images, mean -ELBO {total.mean().item():.4f} nats, {flops} FLOPs per image")


if __name__ == "__main__":
    main()
