#!/usr/bin/env python3
"""Train a TRM/HRM reference model on one Shrink puzzle dataset (CPU).

    python tools/reference/train.py --config tools/reference/configs/trm_mlp_sudoku6.json \
        --train Fixtures/data/sudoku6-train.safetensors --test Fixtures/data/sudoku6-test.safetensors \
        --out out/trm_mlp_sudoku6 --minutes 30

The config JSON has the model fields at top level (Config in models.py; seq_len
and vocab_size may be omitted: they come from the dataset) and an optional
"train" object whose keys are the long option names below with '_' for '-'.
Command-line options override the file; `--model key=value` overrides a model field.

Training follows upstream (pretrain.py + ACTLossHead): one optimizer step per
ACT supervision step; the carry persists across batches and only rows that
halted take a fresh (augmented) puzzle from the next batch; loss per step =
sum over rows of mean token CE + 0.5 * (BCE(q_halt, exact) [+ BCE(q_continue,
target)]), divided by the batch size. The learning-rate schedule is linear
warm-up then cosine to lr_min_ratio over --max-steps, or over --minutes when
--max-steps is 0 (then the run is not bit-reproducible: it depends on speed).

Writes OUT/model.safetensors (FP32 state dict), OUT/config.json, OUT/train_log.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import BatchSampler, PuzzleDataset, load_dataset  # noqa: E402
from models import IGNORE_LABEL_ID, Config, RecursiveModel, act_loss  # noqa: E402

TRAIN_DEFAULTS = dict(
    batch_size=256, lr=1e-3, lr_warmup_steps=200, lr_min_ratio=0.1, weight_decay=0.1,
    beta1=0.9, beta2=0.95, grad_clip=1.0, loss="stablemax", minutes=30.0, max_steps=0,
    seed=0, augment=True, eval_every_minutes=5.0, eval_limit=1000, eval_batch=512,
    ema=0.0, threads=2, log_every=50, stop_at_exact=0.0, keep_checkpoints=False,
    final_eval_limit=0, changed_weight=1.0,
)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="JSON: model fields (+ optional 'train' object)")
    ap.add_argument("--train", required=True, help="training dataset .safetensors")
    ap.add_argument("--test", required=True, help="held-out dataset .safetensors")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--model", action="append", default=[], metavar="KEY=VALUE", help="override a model field")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--lr-warmup-steps", type=int)
    ap.add_argument("--lr-min-ratio", type=float)
    ap.add_argument("--weight-decay", type=float)
    ap.add_argument("--beta1", type=float)
    ap.add_argument("--beta2", type=float)
    ap.add_argument("--grad-clip", type=float, help="0 = off (upstream has none)")
    ap.add_argument("--loss", choices=["stablemax", "softmax"])
    ap.add_argument("--minutes", type=float, help="training wall-time budget (final eval not included)")
    ap.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (0 = time only)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--augment", type=lambda s: s.lower() in ("1", "true", "yes"), help="true|false")
    ap.add_argument("--eval-every-minutes", type=float, help="0 = only the final evaluation")
    ap.add_argument("--eval-limit", type=int, help="puzzles in intermediate evals (final eval uses all)")
    ap.add_argument("--eval-batch", type=int)
    ap.add_argument("--final-eval-limit", type=int, help="puzzles in the final eval (0 = whole test file)")
    ap.add_argument("--ema", type=float, help="EMA rate, e.g. 0.999 (0 = off); EMA weights are evaluated and saved")
    ap.add_argument("--changed-weight", type=float,
                    help="loss weight of cells whose label differs from the input (1 = upstream's plain mean)")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--log-every", type=int)
    ap.add_argument("--stop-at-exact", type=float,
                    help="stop when an intermediate eval reaches this full-depth exact accuracy (0 = never)")
    ap.add_argument("--keep-checkpoints", type=lambda s: s.lower() in ("1", "true", "yes"),
                    help="true: save OUT/checkpoints/stepN/{model.safetensors,config.json,eval.json} at every eval")
    args = ap.parse_args(argv)

    file_cfg, file_train = {}, {}
    if args.config:
        with open(args.config) as f:
            file_cfg = json.load(f)
        file_train = file_cfg.pop("train", {})
        file_cfg.pop("comment", None)
    unknown = set(file_train) - set(TRAIN_DEFAULTS)
    if unknown:
        ap.error(f"unknown train keys in {args.config}: {sorted(unknown)}")
    train = dict(TRAIN_DEFAULTS, **file_train)
    for k in TRAIN_DEFAULTS:
        v = getattr(args, k)
        if v is not None:
            train[k] = v
    for kv in args.model:
        k, _, v = kv.partition("=")
        try:
            file_cfg[k] = json.loads(v)
        except json.JSONDecodeError:
            file_cfg[k] = v
    return args, file_cfg, train


def lr_at(step: int, progress: float, t: dict) -> float:
    if step < t["lr_warmup_steps"]:
        return t["lr"] * (step + 1) / t["lr_warmup_steps"]
    p = min(max(progress, 0.0), 1.0)
    return t["lr"] * (t["lr_min_ratio"] + (1 - t["lr_min_ratio"]) * 0.5 * (1 + math.cos(math.pi * p)))


@torch.no_grad()
def evaluate(model: RecursiveModel, ds: PuzzleDataset, limit: int = 0, batch: int = 512, steps: int = 0) -> dict:
    """Every puzzle runs `steps` (default halt_max_steps) supervision steps.
    Per step: cell accuracy (mean over puzzles of the fraction of non-ignored
    cells right), blank-cell accuracy (cells whose label differs from the
    input), puzzle-exact accuracy; plus ACT accuracy (prediction at the first
    step with q_halt > 0, else the last)."""
    n = ds.n if not limit else min(limit, ds.n)
    S = steps or model.cfg.halt_max_steps
    cell = np.zeros(S); blank = np.zeros(S); exact = np.zeros(S); halt_frac = np.zeros(S)
    act_exact = 0.0; act_cell = 0.0; act_steps = 0.0
    model.eval()
    for lo in range(0, n, batch):
        b = ds.batch(np.arange(lo, min(lo + batch, n)))
        labels, inputs = b["labels"], b["inputs"]
        mask = labels != IGNORE_LABEL_ID
        bmask = mask & (labels != inputs)
        cnt = mask.sum(-1).clamp_min(1)
        bcnt = bmask.sum(-1).clamp_min(1)
        carry = model.initial_carry(b)
        done = torch.zeros(labels.shape[0], dtype=torch.bool)
        act_pred_cell = torch.zeros(labels.shape[0]); act_pred_exact = torch.zeros(labels.shape[0])
        act_st = torch.full((labels.shape[0],), float(S))
        for s in range(S):
            carry, out = model(carry, b)
            right = (out["logits"].argmax(-1) == labels) & mask
            c = right.sum(-1) / cnt
            ex = (right.sum(-1) == mask.sum(-1)).float()
            cell[s] += c.sum().item()
            blank[s] += ((right & bmask).sum(-1) / bcnt).sum().item()
            exact[s] += ex.sum().item()
            h = out["q_halt_logits"] > 0
            halt_frac[s] += h.float().sum().item()
            take = (~done) & (h | (s == S - 1))
            act_pred_cell = torch.where(take, c, act_pred_cell)
            act_pred_exact = torch.where(take, ex, act_pred_exact)
            act_st = torch.where(take & (s < S - 1), torch.full_like(act_st, s + 1), act_st)
            done |= take
        act_cell += act_pred_cell.sum().item(); act_exact += act_pred_exact.sum().item()
        act_steps += act_st.sum().item()
    r = lambda a: [round(float(x) / n, 5) for x in a]
    return {
        "puzzles": n, "steps": S,
        "cell_accuracy": r(cell), "blank_cell_accuracy": r(blank), "exact_accuracy": r(exact),
        "q_halt_positive_fraction": r(halt_frac),
        "cell_accuracy_1step": round(cell[0] / n, 5), "exact_accuracy_1step": round(exact[0] / n, 5),
        "cell_accuracy_full": round(cell[-1] / n, 5), "exact_accuracy_full": round(exact[-1] / n, 5),
        "act_exact_accuracy": round(act_exact / n, 5), "act_cell_accuracy": round(act_cell / n, 5),
        "act_mean_steps": round(act_steps / n, 3),
    }


def save_model(out_dir: str, cfg: Config, state: dict) -> str:
    os.makedirs(out_dir, exist_ok=True)
    state = {k: v.detach().contiguous().float() for k, v in state.items()}
    path = os.path.join(out_dir, "model.safetensors")
    # One metadata key only: safetensors writes __metadata__ from a hash map, so
    # several keys come out in varying order and the file is not byte-stable.
    save_file(state, path, metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg.to_dict(), f, indent=2)
    return path


def main(argv=None):
    args, cfg_dict, t = parse_args(argv)
    torch.set_num_threads(int(t["threads"]))
    torch.manual_seed(t["seed"])
    np.random.seed(t["seed"])
    torch.use_deterministic_algorithms(True)

    train_ds, test_ds = load_dataset(args.train), load_dataset(args.test)
    for k, v in (("seq_len", train_ds.seq_len), ("vocab_size", train_ds.vocab_size)):
        if cfg_dict.setdefault(k, v) != v:
            raise SystemExit(f"config {k}={cfg_dict[k]} but dataset has {v}")
    if test_ds.seq_len != train_ds.seq_len or test_ds.vocab_size != train_ds.vocab_size:
        raise SystemExit("train and test datasets disagree on seq_len/vocab_size")
    cfg_dict.setdefault("num_puzzle_identifiers", max(train_ds.num_puzzle_identifiers, test_ds.num_puzzle_identifiers))
    cfg_dict["batch_size"] = t["batch_size"]
    cfg = Config.from_dict(cfg_dict)

    model = RecursiveModel(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=t["lr"], betas=(t["beta1"], t["beta2"]),
                            weight_decay=t["weight_decay"])
    ema = None
    if t["ema"]:
        ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sampler = BatchSampler(train_ds, t["batch_size"], seed=t["seed"], augment=bool(t["augment"]))
    os.makedirs(args.out, exist_ok=True)
    print(f"{cfg.arch} params={n_params} ({n_params * 4 / 1e6:.2f} MB) train={train_ds.n} test={test_ds.n} "
          f"task={train_ds.task}", flush=True)

    def with_ema(fn):
        if ema is None:
            return fn()
        live = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(ema)
        try:
            return fn()
        finally:
            model.load_state_dict(live)

    log = {
        # Relative to the repository, so committed logs name no machine's paths.
        "command": " ".join(["python"] + [os.path.relpath(a) if os.path.isabs(a) else a for a in sys.argv]) if argv is None else " ".join(argv),
        "config": cfg.to_dict(), "train": t, "params": n_params,
        "train_data": {"path": args.train, "n": train_ds.n, "meta": train_ds.meta},
        "test_data": {"path": args.test, "n": test_ds.n},
        "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
        "evals": [], "train_metrics": [],
    }
    budget = t["minutes"] * 60.0
    start = time.perf_counter()
    next_eval = t["eval_every_minutes"] * 60.0 if t["eval_every_minutes"] > 0 else float("inf")
    model.train()
    carry = model.initial_carry(sampler.next())
    step = 0
    acc = {}
    t_last, step_last = start, 0
    while True:
        elapsed = time.perf_counter() - start
        if (t["max_steps"] and step >= t["max_steps"]) or elapsed >= budget:
            break
        progress = step / t["max_steps"] if t["max_steps"] else elapsed / budget
        for g in opt.param_groups:
            g["lr"] = lr_at(step, progress, t)
        batch = sampler.next()
        carry, out = model(carry, batch)
        loss, m = act_loss(carry, out, t["loss"], t["changed_weight"])
        (loss / t["batch_size"]).backward()
        if t["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        if ema is not None:
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    if v.dtype.is_floating_point:
                        ema[k].lerp_(v, 1.0 - t["ema"])
        step += 1
        for k, v in m.items():
            acc[k] = acc.get(k, 0.0) + v
        if step % t["log_every"] == 0:
            now = time.perf_counter()
            c = max(acc.get("count", 0), 1)
            rec = {"step": step, "wall_s": round(now - start, 1), "lr": opt.param_groups[0]["lr"],
                   "steps_per_s": round((step - step_last) / (now - t_last), 3),
                   "lm_loss": round(acc["lm_loss"] / (t["log_every"] * t["batch_size"]), 4),
                   "halted": int(acc.get("count", 0)),
                   "train_exact": round(acc.get("exact_accuracy", 0) / c, 4),
                   "train_cell": round(acc.get("accuracy", 0) / c, 4),
                   "train_mean_steps": round(acc.get("steps", 0) / c, 2),
                   "q_halt_acc": round(acc.get("q_halt_accuracy", 0) / c, 4)}
            log["train_metrics"].append(rec)
            print(json.dumps(rec), flush=True)
            acc, t_last, step_last = {}, now, step
        if time.perf_counter() - start >= next_eval:
            ev = with_ema(lambda: evaluate(model, test_ds, t["eval_limit"], t["eval_batch"]))
            model.train()
            ev.update(step=step, wall_s=round(time.perf_counter() - start, 1))
            log["evals"].append(ev)
            print("eval", json.dumps({k: ev[k] for k in ("step", "wall_s", "cell_accuracy_1step", "exact_accuracy_1step",
                                                      "cell_accuracy_full", "exact_accuracy_full", "act_exact_accuracy")}), flush=True)
            next_eval += t["eval_every_minutes"] * 60.0
            if t["keep_checkpoints"]:
                d = os.path.join(args.out, "checkpoints", f"step{step}")
                save_model(d, cfg, ema if ema is not None else model.state_dict())
                with open(os.path.join(d, "eval.json"), "w") as f:
                    json.dump(ev, f, indent=2)
            t_last, step_last = time.perf_counter(), step
            if t["stop_at_exact"] and ev["exact_accuracy_full"] >= t["stop_at_exact"]:
                log["stopped_early"] = f"exact_accuracy_full {ev['exact_accuracy_full']} >= {t['stop_at_exact']}"
                break
    train_s = time.perf_counter() - start
    log.update(steps=step, train_wall_s=round(train_s, 1), steps_per_s=round(step / max(train_s, 1e-9), 3),
               samples_per_s=round(step * t["batch_size"] / max(train_s, 1e-9), 1), epochs_of_data=sampler.epoch)

    t0 = time.perf_counter()
    final = with_ema(lambda: evaluate(model, test_ds, t["final_eval_limit"], t["eval_batch"]))
    final["eval_wall_s"] = round(time.perf_counter() - t0, 1)
    log["final_eval"] = final
    print("final", json.dumps(final), flush=True)

    path = save_model(args.out, cfg, ema if ema is not None else model.state_dict())
    log["model_bytes"] = os.path.getsize(path)
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=2)
    print(f"saved {path} ({log['model_bytes']} bytes), {step} steps in {train_s:.0f}s", flush=True)


if __name__ == "__main__":
    main()
