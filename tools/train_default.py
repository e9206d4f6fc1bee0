#!/usr/bin/env python3
"""Train the bundled default checkpoint: Fixtures/default/model.safetensors.

The README's first commands (`shrink inspect/quantize/diff`) need a small but
*real* trained model, so that quantization error is measured on weights with
trained structure rather than on random noise. This script trains one on CPU
in a few seconds, deterministically.

Task ("majority class"): each of the VOCAB tokens secretly belongs to one of
NUM_CLASSES classes (a seeded random assignment). A sequence of SEQ_LEN tokens
is labelled with the class that occurs most often in it. Sequences are built
so one class is planted a few extra times, but the rest are random, so the
margin is often small and the model must actually learn the token->class map
from data.

Model (names chosen to look like a transformer checkpoint, all 2-D weight
inner dimensions are multiples of 128 so group sizes 32/64/128 all divide):

    embed.weight        [VOCAB, 128]   embedding table (mean-pooled)
    norm.weight         [128]          RMSNorm
    layers.0.weight     [256, 128]     Linear + GELU
    layers.0.bias       [256]
    layers.1.weight     [256, 256]     Linear + GELU
    layers.1.bias       [256]
    final_norm.weight   [256]          LayerNorm
    final_norm.bias     [256]
    head.weight         [10, 256]      classifier
    head.bias           [10]

Usage: tools/train_default.py [--out Fixtures/default]
Re-running on the same machine and torch build gives byte-identical files.
"""

import argparse
import json
import os
import sys
import time

import torch
from torch import nn
from safetensors.torch import save_file

# Single-threaded: keeps float reductions in a fixed order (determinism) and
# leaves the other cores to whoever else is using the machine.
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

SEED = 0
VOCAB = 256
SEQ_LEN = 16
NUM_CLASSES = 10
HIDDEN = 128
INTERMEDIATE = 256
PLANTED = 3  # extra copies of the target class placed in each sequence
N_TRAIN = 40_000
N_TEST = 5_000
EPOCHS = 12
BATCH = 256
LR = 3e-3


class DefaultMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, HIDDEN)
        self.norm = nn.RMSNorm(HIDDEN, eps=1e-6)
        self.layers = nn.ModuleList(
            [nn.Linear(HIDDEN, INTERMEDIATE), nn.Linear(INTERMEDIATE, INTERMEDIATE)]
        )
        self.final_norm = nn.LayerNorm(INTERMEDIATE, eps=1e-5)
        self.head = nn.Linear(INTERMEDIATE, NUM_CLASSES)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.embed(tokens).mean(dim=1))
        for layer in self.layers:
            x = nn.functional.gelu(layer(x))
        return self.head(self.final_norm(x))


def make_task(gen: torch.Generator):
    """Return (token_class, (train_x, train_y), (test_x, test_y))."""
    token_class = torch.randint(0, NUM_CLASSES, (VOCAB,), generator=gen)
    # Tokens grouped by class, so a class can be planted by sampling its members.
    members = [torch.nonzero(token_class == c).flatten() for c in range(NUM_CLASSES)]

    def sample(n: int):
        x = torch.randint(0, VOCAB, (n, SEQ_LEN), generator=gen)
        target = torch.randint(0, NUM_CLASSES, (n,), generator=gen)
        for c in range(NUM_CLASSES):
            rows = torch.nonzero(target == c).flatten()
            picks = members[c][
                torch.randint(0, len(members[c]), (len(rows), PLANTED), generator=gen)
            ]
            x[rows, :PLANTED] = picks
        # Shuffle positions so the planted tokens are not always first.
        order = torch.argsort(torch.rand(n, SEQ_LEN, generator=gen), dim=1)
        x = torch.gather(x, 1, order)
        # The label is the true majority (ties -> lowest class id), which is
        # usually but not always the planted class: a clean, checkable rule.
        counts = nn.functional.one_hot(token_class[x], NUM_CLASSES).sum(dim=1)
        y = counts.argmax(dim=1)
        return x, y

    return token_class, sample(N_TRAIN), sample(N_TEST)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(repo, "Fixtures", "default"))
    args = parser.parse_args()

    start = time.perf_counter()
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    _, (train_x, train_y), (test_x, test_y) = make_task(gen)

    model = DefaultMLP()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-2)
    steps = EPOCHS * ((N_TRAIN + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(N_TRAIN, generator=gen)
        for i in range(0, N_TRAIN, BATCH):
            idx = perm[i : i + BATCH]
            loss = loss_fn(model(train_x[idx]), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        print(
            f"epoch {epoch + 1:2d}  loss {loss.item():.4f}  "
            f"test acc {accuracy(model, test_x, test_y):.4f}",
            file=sys.stderr,
        )

    train_acc = accuracy(model, train_x, train_y)
    test_acc = accuracy(model, test_x, test_y)
    elapsed = time.perf_counter() - start

    os.makedirs(args.out, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    assert all(t.dtype == torch.float32 for t in tensors.values())
    # A single metadata key: safetensors writes __metadata__ from a Rust
    # HashMap, so several keys come out in a random order and reruns would
    # not be byte-identical. Provenance lives in config.json instead.
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})

    config = {
        "model_type": "shrink-default-mlp",
        "architectures": ["DefaultMLP"],
        "description": (
            "Bundled default checkpoint for shrink: a small MLP classifier "
            "trained on a synthetic 'majority token class' task. See "
            "tools/train_default.py."
        ),
        "torch_dtype": "float32",
        "vocab_size": VOCAB,
        "seq_len": SEQ_LEN,
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_labels": NUM_CLASSES,
        "num_layers": 2,
        "activation": "gelu",
        "rms_norm_eps": 1e-6,
        "layer_norm_eps": 1e-5,
        "forward": (
            "logits = head(final_norm(gelu(layers.1(gelu(layers.0("
            "norm(mean_seq(embed(tokens)))))))))"
        ),
        "task": {
            "name": "majority-token-class",
            "seed": SEED,
            "num_train": N_TRAIN,
            "num_test": N_TEST,
            "planted_copies": PLANTED,
            "label_rule": "argmax over classes of count(token_class[t] == c), ties to lowest class",
        },
        "training": {
            "optimizer": "AdamW",
            "lr": LR,
            "weight_decay": 1e-2,
            "schedule": "OneCycleLR",
            "epochs": EPOCHS,
            "batch_size": BATCH,
            "torch_version": torch.__version__,
        },
        "metrics": {
            "train_accuracy": round(train_acc, 4),
            "test_accuracy": round(test_acc, 4),
        },
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")

    size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    print(
        json.dumps(
            {
                "out": args.out,
                "bytes": size,
                "params": sum(t.numel() for t in tensors.values()),
                "train_accuracy": train_acc,
                "test_accuracy": test_acc,
                "seconds": round(elapsed, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
