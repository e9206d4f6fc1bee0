#!/usr/bin/env python3
"""Prints the Markdown table of plans/*.json (one row per planned model) that
plans/PLANS.md embeds between its <!-- table --> markers; tools/make_plans.sh
rewrites that section. Standard library only.

Usage: tools/plans_table.py plans/*.json
"""
import json
import os
import sys
from collections import Counter


def recipe(m):
    if not m["quantize"]:
        return "all FP32 (fits unquantized)"
    names = []
    for c in m["quantize"].values():
        g = c["strategy"] if c["strategy"] != "group" else f"group-{c['group_size']}"
        names.append(f"int{c['bits']} {g} {c['method']}")
    return ", ".join(f"{n}× {k}" for k, n in sorted(Counter(names).items()))


def pct(i):
    return f"{100 * i['estimate']:.1f} [{100 * i['lower']:.1f}, {100 * i['upper']:.1f}]"


def main(paths):
    print("| plan | model | device | fits | recipe | steps | weight bytes predicted / written | RAM peak (activations) "
          "| flash | MFLOP/puzzle | latency ms (profile) | exact % [95% CI] | FP32 exact % | cell % | carry fidelity | label |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted(paths):
        plan = json.load(open(path))
        cap = plan["budget"].get("max_weight_bytes")
        for m in plan["models"]:
            p, me = m["prediction"], m.get("measurement")
            device = plan["device"]["name"] + (f" ({cap} B cap)" if cap else "")
            row = [os.path.basename(path)[:-5], m["name"], device, "yes" if plan["fits"] else "**no**", recipe(m), str(m["steps"]),
                   f"{p['weight_bytes']} / {me['written_tensor_bytes'] if me else '–'}",
                   f"{p['ram_bytes']} ({p['activation_bytes']})", str(p["flash_bytes"]), f"{p['flops_per_puzzle'] / 1e6:.1f}",
                   f"{1e3 * p['latency_seconds']:.2f}"]
            if me:
                row += [pct(me["exact"]), f"{100 * me['fp32_exact']['estimate']:.1f}", f"{100 * me['cell']['estimate']:.2f}",
                        f"{me['carry_fidelity']:.4f}", me["label"]["evidence"]]
            else:
                row += ["–"] * 5
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
