"""Shrink's convolutional VAE (Kingma & Welling 2014, arXiv:1312.6114): the PyTorch reference of
Sources/ShrinkModels/VAE/ and its trainer on Fashion-MNIST.

Architecture (config.json fields in brackets; c1, c2 = `channels`, L = `latent_dim`, B = `bottleneck_blocks`):
  encoder: conv_in 3x3 s2 1->c1 (28->14), GroupNorm, SiLU; down 3x3 s2 c1->c2 (14->7), GroupNorm, SiLU;
           B x [3x3 s1 c2->c2, GroupNorm, SiLU]; flatten (c2*7*7); fc_mu and fc_logvar: linear -> L
  decoder: fc L -> c2*7*7, SiLU; B x [3x3 s1 c2->c2, GroupNorm, SiLU]; nearest x2 (7->14); up 3x3 c2->c1,
           GroupNorm, SiLU; nearest x2 (14->28); conv_out 3x3 c1->1; sigmoid
  Every conv has padding 1 and a bias; GroupNorm has `norm_groups` groups, eps `norm_eps` (Wu & He 2018).
Likelihood: Bernoulli on pixel intensities x = u8/255 (the decoder's sigmoid is the mean; the loss is
binary cross-entropy with logits, summed over the 784 pixels). Negative ELBO, in nats per image:
  -ELBO = sum_pixels BCE(decoder(z), x) + KL(N(mu, sigma^2) || N(0, I)),  KL = -1/2 sum(1 + logvar - mu^2 - e^logvar).
Training samples z = mu + e^(logvar/2) * eps (one sample per image); *evaluation* decodes z = mu (what Shrink's
forward pass does), so the evaluation -ELBO is deterministic and the same number Shrink reports.

The two architectures of issue #15:
  tiny-vae          channels [32, 64], B 2, latent 64 (8/16/32 for the ablation): 791,425 parameters (3.166 MB F32)
  vision-puzzle-vae channels [32, 48], B 2, latent 32:                          340,289 parameters (1.361 MB F32)

Training: Adam (lr 1e-3), batch 128, seed explicit, torch.set_num_threads(1), deterministic algorithms; the train
set is the 55,000 images of tools/fashion_mnist.py's split, early stopping on the 5,000 validation images' -ELBO
with patience `--patience` epochs (converged = no new best validation -ELBO for that many epochs; the best epoch's
weights are saved). `--max-epochs` and `--minutes` cap a run; the curve JSON says which of the three ended it.

Usage:
  .venv-tools/bin/python tools/vae.py train --arch tiny-vae --latent 64 --seed 0 --out data/vae/tiny64-s0
  .venv-tools/bin/python tools/vae.py count            # parameter counts of every architecture
Writes <out>/model.safetensors, <out>/config.json, <out>/curve.json.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
from safetensors.torch import save_file, load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402

ARCHS = {
    "tiny-vae": {"channels": [32, 64], "bottleneck_blocks": 2, "latent_dim": 64},
    "vision-puzzle-vae": {"channels": [32, 48], "bottleneck_blocks": 2, "latent_dim": 32},
}


def make_config(arch, latent=None):
    a = dict(ARCHS[arch])
    if latent is not None:
        a["latent_dim"] = latent
    return {
        "model_type": "shrink-vae",
        "architectures": ["ConvVAE"],
        "variant": arch,
        "image_size": 28,
        "in_channels": 1,
        "channels": a["channels"],
        "bottleneck_blocks": a["bottleneck_blocks"],
        "latent_dim": a["latent_dim"],
        "norm_groups": 8,
        "norm_eps": 1e-5,
        "likelihood": "bernoulli",
    }


class Block(nn.Module):
    def __init__(self, cin, cout, groups, eps, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.norm = nn.GroupNorm(groups, cout, eps=eps)

    def forward(self, x):
        return F.silu(self.norm(self.conv(x)))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c1, c2 = cfg["channels"]
        g, eps = cfg["norm_groups"], cfg["norm_eps"]
        self.conv_in = Block(cfg["in_channels"], c1, g, eps, stride=2)
        self.down = Block(c1, c2, g, eps, stride=2)
        self.blocks = nn.ModuleList([Block(c2, c2, g, eps) for _ in range(cfg["bottleneck_blocks"])])

    def forward(self, x):
        h = self.down(self.conv_in(x))
        for b in self.blocks:
            h = b(h)
        return h.flatten(1)


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c1, c2 = cfg["channels"]
        g, eps = cfg["norm_groups"], cfg["norm_eps"]
        self.c2, self.side = c2, cfg["image_size"] // 4
        self.fc = nn.Linear(cfg["latent_dim"], c2 * self.side * self.side)
        self.blocks = nn.ModuleList([Block(c2, c2, g, eps) for _ in range(cfg["bottleneck_blocks"])])
        self.up = Block(c2, c1, g, eps)
        self.conv_out = nn.Conv2d(c1, cfg["in_channels"], 3, padding=1)

    def forward(self, z):
        h = F.silu(self.fc(z)).view(-1, self.c2, self.side, self.side)
        for b in self.blocks:
            h = b(h)
        h = self.up(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.interpolate(h, scale_factor=2, mode="nearest"))  # logits


class ConvVAE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c2, side = cfg["channels"][1], cfg["image_size"] // 4
        self.encoder = Encoder(cfg)
        self.fc_mu = nn.Linear(c2 * side * side, cfg["latent_dim"])
        self.fc_logvar = nn.Linear(c2 * side * side, cfg["latent_dim"])
        self.decoder = Decoder(cfg)

    def encode(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def negative_elbo(self, x, generator=None):
        """Per-image (-ELBO, reconstruction term, KL) in nats; z sampled with `generator`, or z = mu when None."""
        mu, logvar = self.encode(x)
        if generator is None:
            z = mu
        else:
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        logits = self.decoder(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(1)
        return rec + kl, rec, kl


def images_tensor(images):
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


@torch.no_grad()
def evaluate(model, x, batch=500):
    model.eval()
    total = 0.0
    for i in range(0, x.shape[0], batch):
        total += model.negative_elbo(x[i: i + batch])[0].double().sum().item()
    return total / x.shape[0]


def train(args):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    cfg = make_config(args.arch, args.latent)
    images, _ = fashion_mnist.load("train")
    train_idx, val_idx = fashion_mnist.split(images.shape[0])
    if args.train_limit:
        train_idx = train_idx[: args.train_limit]
    xtrain, xval = images_tensor(images[train_idx]), images_tensor(images[val_idx])
    model = ConvVAE(cfg)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    curve, best, best_state, since_best, stop = [], float("inf"), None, 0, "max_epochs"
    start = time.time()
    for epoch in range(1, args.max_epochs + 1):
        t0 = time.time()
        model.train()
        order = torch.randperm(xtrain.shape[0], generator=gen)
        total = 0.0
        for i in range(0, xtrain.shape[0], args.batch):
            xb = xtrain[order[i: i + args.batch]]
            loss = model.negative_elbo(xb, generator=gen)[0]
            opt.zero_grad()
            loss.mean().backward()
            opt.step()
            total += loss.detach().double().sum().item()
        val = evaluate(model, xval)
        seconds = time.time() - t0
        curve.append({"epoch": epoch, "train_neg_elbo_sampled": total / xtrain.shape[0],
                      "validation_neg_elbo": val, "seconds": round(seconds, 2)})
        print(f"epoch {epoch}: train {total / xtrain.shape[0]:.3f}  val {val:.3f}  {seconds:.1f}s", flush=True)
        if val < best:
            best, since_best = val, 0
            best_state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        else:
            since_best += 1
            if since_best >= args.patience:
                stop = "early_stopping"
                break
        elapsed = time.time() - start
        if elapsed + seconds > args.minutes * 60 and epoch < args.max_epochs:
            stop = "time_budget"
            break
    os.makedirs(args.out, exist_ok=True)
    save_file(best_state, os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    best_epoch = min(curve, key=lambda e: e["validation_neg_elbo"])["epoch"]
    record = {
        "command": " ".join([".venv-tools/bin/python", "tools/vae.py"] + sys.argv[1:]),
        "config": cfg, "parameters": params, "bytes_f32": 4 * params, "seed": args.seed,
        "optimizer": {"name": "adam", "lr": args.lr}, "batch_size": args.batch,
        "train_images": xtrain.shape[0], "validation_images": xval.shape[0],
        "split": "tools/fashion_mnist.py: last 5000 of a SplitMix64 Fisher-Yates permutation (seed 0x5EEDF45A)",
        "likelihood": "bernoulli (BCE with logits, summed over pixels); validation -ELBO decodes z = mu",
        "patience_epochs": args.patience, "max_epochs": args.max_epochs, "minutes_budget": args.minutes,
        "stopped_by": stop, "converged": stop == "early_stopping",
        "best_epoch": best_epoch, "best_validation_neg_elbo": best,
        "wall_seconds": round(time.time() - start, 1), "threads": 1, "torch": torch.__version__,
        "curve": curve,
    }
    with open(os.path.join(args.out, "curve.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    print(f"{args.out}: {params} parameters, best validation -ELBO {best:.3f} at epoch {best_epoch}, stopped by {stop}")


def load_model(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    model = ConvVAE(cfg)
    model.load_state_dict(load_file(os.path.join(folder, "model.safetensors")))
    model.eval()
    return model, cfg


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--arch", choices=sorted(ARCHS), required=True)
    t.add_argument("--latent", type=int)
    t.add_argument("--seed", type=int, required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--patience", type=int, default=3)
    t.add_argument("--max-epochs", type=int, default=100)
    t.add_argument("--minutes", type=float, default=30.0)
    t.add_argument("--train-limit", type=int, default=0, help="use only the first N train images (timing)")
    sub.add_parser("count")
    args = p.parse_args()
    if args.cmd == "count":
        for arch in sorted(ARCHS):
            for latent in ([8, 16, 32, 64] if arch == "tiny-vae" else [None]):
                m = ConvVAE(make_config(arch, latent))
                n = sum(q.numel() for q in m.parameters())
                print(f"{arch} latent {latent or ARCHS[arch]['latent_dim']}: {n} parameters, {4 * n} bytes F32")
    else:
        train(args)


if __name__ == "__main__":
    main()
