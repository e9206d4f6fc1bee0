"""Independent FLOP count of the PyTorch reference (tools/reference/models.py) for
the fixture models: torch.utils.flop_counter.FlopCounterMode over one puzzle
(batch 1) and one supervision step, and over `halt_max_steps` steps. Writes
Tests/Fixtures/plan/reference_flops.json, which ShrinkPlanTests compares with
ReasonerCost. FlopCounterMode counts matrix products (mm/addmm/bmm/SDPA) only,
as ReasonerCost does (attention through the math backend, so its two batched
products are seen).

usage: .venv-tools/bin/python tools/count_flops.py [--check]
"""
import json
import os
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
from models import load_model  # noqa: E402

FIXTURES = ["trm_mlp_sudoku6", "trm_att_sudoku6", "hrm_sudoku6", "trm_att_maze7", "trm_mlp_sudoku9"]
OUT = os.path.join(ROOT, "Tests", "Fixtures", "plan", "reference_flops.json")


def count(model, steps):
    cfg = model.cfg
    batch = {
        "inputs": torch.ones(1, cfg.seq_len, dtype=torch.int32),
        "puzzle_identifiers": torch.zeros(1, dtype=torch.int32),
    }
    # CPU's fused SDPA kernel is invisible to the counter; the math backend
    # decomposes it into the two batched products it is.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model.run(batch, steps=steps)
    return int(counter.get_total_flops())


def main():
    result = {}
    for name in FIXTURES:
        model = load_model(os.path.join(ROOT, "Fixtures", "models", name))
        result[name] = {"one_step": count(model, 1), "all_steps": count(model, model.cfg.halt_max_steps),
                        "halt_max_steps": model.cfg.halt_max_steps}
    text = json.dumps(result, indent=2, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                sys.exit(f"{OUT} is stale; rerun tools/count_flops.py")
        print("reference FLOP goldens up to date")
        return
    with open(OUT, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
