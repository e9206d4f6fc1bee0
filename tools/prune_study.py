"""Writes PRUNING_STUDY.md from the sweeps tools/prune_study.sh leaves in study/prune/ (issue 17's study for the
recursive reasoners): per fixture, exact and cell accuracy and carry-trajectory fidelity (CTF) against sparsity for
magnitude, Wanda and SparseGPT pruning, unstructured and 2:4; where exact accuracy first drops significantly and
where it collapses, and what the cells do there; then what a rank of EoRA compensation buys at INT4/INT3/INT2
against one more bit.

Every figure is read from the sweep JSON (Shrink's own paired statistics: Δexact with its McNemar-based interval
and label, Δcell as a paired bootstrap over puzzles); nothing is recomputed except differences of point estimates,
which are marked as such. Deterministic: the same sweeps give the same bytes.

Usage: python3 tools/prune_study.py study/prune PRUNING_STUDY.md --command "tools/prune_study.sh"
"""
import argparse
import json
import os
import re

SPARSITIES = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "2:4"]
METHODS = ["magnitude", "wanda", "sparsegpt"]


def pct(x, digits=1):
    return f"{100 * x:.{digits}f}"


def interval(i, digits=1):
    return f"{pct(i['estimate'], digits)} [{pct(i['lower'], digits)}, {pct(i['upper'], digits)}]"


def load(path):
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise SystemExit(f"{path}: not a complete JSON result ({e}); rerun the part of tools/prune_study.sh that writes it")


def final_rows(report):
    """The rows at the trained depth's last supervision step (the model as deployed)."""
    h = report["trained_h_cycles"]
    at_h = [r for r in report["rows"] if r["h_cycles"] == h]
    steps = max(r["steps"] for r in at_h)
    return [r for r in at_h if r["steps"] == steps], steps


def significant_loss(r):
    return r["exact_versus_fp32"]["upper"] < 0 and r["label"]["evidence"] == "validated"


def pruning_section(name, report):
    rows, steps = final_rows(report)
    fp32 = next(r for r in rows if r["recipe"] == "fp32")
    by = {(r["prune"], r["sparsity"]): r for r in rows if r.get("prune")}
    out = [f"## {name} ({report['architecture']})", ""]
    out.append(f"{report['puzzles']} held-out puzzles of `{report['data']}`, at the trained depth ({steps} supervision steps, "
               f"H_cycles {report['trained_h_cycles']}). FP32: exact {interval(fp32['exact'])}%, cell {interval(fp32['cell'])}%, "
               f"{fp32['weight_bytes']} weight bytes. Every 2-D weight but the embedding tables is pruned (per layer; "
               f"N:M over each run of M inputs) and kept at full precision, stored sparse.")
    out.append("")
    out.append("Exact accuracy (%) against sparsity; in brackets the paired Δcell (points) against FP32; CTF is the mean carry "
               "cosine to FP32 at the last step.")
    out.append("")
    out.append("| sparsity | weight bytes | " + " | ".join(f"{m} exact (Δcell) | {m} CTF" for m in METHODS) + " |")
    out.append("|---|---|" + "---|---|" * len(METHODS))
    for s in SPARSITIES:
        cells = []
        present = [by.get((m, s)) for m in METHODS]
        if not any(present):
            continue
        size = next(r["weight_bytes"] for r in present if r)
        for r in present:
            if r is None:
                cells += ["—", "—"]
                continue
            dc = r.get("cell_versus_fp32")
            cells.append(f"{pct(r['exact']['estimate'])} ({pct(dc['estimate'])})" if dc else pct(r["exact"]["estimate"]))
            cells.append(f"{r['fidelity']:.3f}")
        out.append(f"| {s} | {size} | " + " | ".join(cells) + " |")
    out.append("")
    findings = []
    for m in METHODS:
        curve = [(s, by[(m, s)]) for s in SPARSITIES[:-1] if (m, s) in by]
        if not curve:
            continue
        first = next(((s, r) for s, r in curve if significant_loss(r)), None)
        half = next(((s, r) for s, r in curve if r["exact"]["estimate"] <= fp32["exact"]["estimate"] / 2), None)
        text = f"- **{m}**: "
        if first:
            s, r = first
            text += (f"the first significant exact loss is at {pct(float(s), 0)}% sparsity (Δexact {interval(r['exact_versus_fp32'])} points, "
                     f"{r['label']['evidence']}; Δcell {interval(r['cell_versus_fp32'])} points)")
        else:
            text += f"no sparsity in the sweep (up to {pct(float(curve[-1][0]), 0)}%) loses exact accuracy significantly with a validated label"
        if half:
            s, r = half
            dc = r["cell_versus_fp32"]
            ratio = r["exact_versus_fp32"]["estimate"] / dc["estimate"] if dc["estimate"] < 0 else float("inf")
            text += (f"; exact accuracy halves by {pct(float(s), 0)}% (exact {pct(r['exact']['estimate'])}%, Δexact "
                     f"{interval(r['exact_versus_fp32'])}) while cell accuracy is {pct(r['cell']['estimate'])}% (Δcell {interval(dc)}): "
                     + (f"whole puzzles lose {ratio:.1f}× as many points as cells" if ratio != float("inf") else "the cells do not drop at all"))
        else:
            text += "; exact accuracy never halves"
        two_four = by.get((m, "2:4"))
        if two_four:
            text += (f". 2:4: exact {pct(two_four['exact']['estimate'])}% (Δexact {interval(two_four['exact_versus_fp32'])}, "
                     f"{two_four['label']['evidence']}), Δcell {interval(two_four['cell_versus_fp32'])}")
        findings.append(text + ".")
    out += ["Findings (each Δ is paired against FP32 on the same puzzles, 95% intervals; validated = enough puzzles and "
            "a significant McNemar test, as STUDY.md defines it):", ""] + findings
    # The methods' ordering at 50% and at 2:4, by point estimate; intervals that do not overlap are marked.
    order = []
    for s in ["0.5", "2:4"]:
        rs = [(m, by[(m, s)]) for m in METHODS if (m, s) in by]
        if len(rs) < 2:
            continue
        rs.sort(key=lambda mr: -mr[1]["exact"]["estimate"])
        parts = []
        for i, (m, r) in enumerate(rs):
            parts.append(f"{m} {pct(r['exact']['estimate'])}%")
        separated = all(rs[i][1]["exact"]["lower"] > rs[i + 1][1]["exact"]["upper"] for i in range(len(rs) - 1))
        order.append(f"at {'50%' if s == '0.5' else '2:4'}: " + " > ".join(parts)
                     + (" (Wilson intervals do not overlap)" if separated else " (some Wilson intervals overlap: the order is not established)"))
    if order:
        out += ["", "Ordering of the methods by exact accuracy " + "; ".join(order) + "."]
    out.append("")
    return out, fp32


def lowrank_section(name, report):
    rows, steps = final_rows(report)
    fp32 = next(r for r in rows if r["recipe"] == "fp32")
    q = [r for r in rows if r["recipe"] != "fp32"]

    def rank(r):
        lr = r.get("low_rank")
        return int(lr.split()[1]) if lr else 0

    base = {r["bits"]: r for r in q if rank(r) == 0}
    out = [f"### {name}: EoRA rank against bits (GPTQ per channel)", ""]
    out.append("| bits | rank | weight bytes | extra bytes vs rank 0 | exact (95%) | Δexact vs FP32 | Δexact vs rank 0 (points, difference of estimates) | points per extra KB |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in sorted(q, key=lambda r: (-r["bits"], rank(r))):
        b = base.get(r["bits"])
        extra = r["weight_bytes"] - b["weight_bytes"] if b else 0
        gain = (r["exact"]["estimate"] - b["exact"]["estimate"]) if b else 0
        per_kb = f"{100 * gain / (extra / 1024):.2f}" if extra > 0 else "—"
        out.append(f"| {r['bits']} | {rank(r)} | {r['weight_bytes']} | {extra} | {interval(r['exact'])} | {interval(r['exact_versus_fp32'])} | "
                   f"{pct(gain)} | {per_kb} |")
    out.append("")
    # Rank against one more bit: the best compensated point at b bits whose bytes stay within b+1 bits' bytes.
    verdicts = []
    for bits in [3, 2]:
        if bits not in base or bits + 1 not in base:
            continue
        more = base[bits + 1]
        within = [r for r in q if r["bits"] == bits and rank(r) > 0 and r["weight_bytes"] <= more["weight_bytes"]]
        if not within:
            verdicts.append(f"- INT{bits}: every rank costs more bytes than INT{bits + 1}.")
            continue
        best = max(within, key=lambda r: r["exact"]["estimate"])
        beats = best["exact"]["lower"] > more["exact"]["upper"]
        loses = best["exact"]["upper"] < more["exact"]["lower"]
        verdicts.append(
            f"- INT{bits} + rank {rank(best)} ({best['weight_bytes']} bytes): exact {interval(best['exact'])}% against INT{bits + 1} alone "
            f"({more['weight_bytes']} bytes): {interval(more['exact'])}%: "
            + ("the rank buys more than the bit" if beats else "the extra bit buys more than the rank" if loses
               else "the intervals overlap: neither is established as better"))
    out += ["Rank against one more bit, at no more bytes than the extra bit costs:", ""] + verdicts + [""]
    # Every compensated point against the best uncompensated one that costs no more bytes.
    plain = [r for r in q if rank(r) == 0]
    lines, dominated, compensated = [], 0, [r for r in q if rank(r) > 0]
    for r in sorted(compensated, key=lambda r: r["weight_bytes"]):
        cheaper = [p for p in plain if p["weight_bytes"] <= r["weight_bytes"]]
        if not cheaper:
            continue
        best = max(cheaper, key=lambda p: p["exact"]["estimate"])
        if best["exact"]["estimate"] >= r["exact"]["estimate"]:
            dominated += 1
        lines.append(f"INT{r['bits']} + rank {rank(r)} ({r['weight_bytes']} B, exact {pct(r['exact']['estimate'])}%) vs INT{best['bits']} "
                     f"({best['weight_bytes']} B, {pct(best['exact']['estimate'])}%)")
    if lines:
        widths = ", ".join(str(b) for b in sorted({p["bits"] for p in plain}, reverse=True))
        out += [f"Against bits at no more bytes: {dominated} of {len(lines)} compensated points are matched or beaten by a plain bit "
                f"width that costs no more (the sweep's plain widths: {widths} bits, so a point above the widest one's bytes has "
                f"only that one to meet): {'; '.join(lines)}.", ""]
    return out


# Llama-2-7B on WikiText-2 (Wanda, Sun et al., arXiv 2306.11695, Table 3; the table): dense 5.12.
PUBLISHED = {"0.5": {"magnitude": 14.89, "sparsegpt": 6.51, "wanda": 6.42}, "2:4": {"magnitude": 54.59, "sparsegpt": 10.17, "wanda": 11.02}}


def ordering(values):
    """Methods from best (lowest) to worst."""
    return sorted(values, key=values.get)


def sparsity_against_bits(name, pruning, lowrank):
    """Why the planner is not offered sparsity: the best pruned point against plain GPTQ bit widths at no more bytes."""
    prows, _ = final_rows(pruning)
    lrows, _ = final_rows(lowrank)
    plain = [r for r in lrows if r["recipe"] != "fp32" and not r.get("low_rank")]
    pruned = [r for r in prows if r.get("prune")]
    if not plain or not pruned:
        return []
    widest = max(plain, key=lambda r: r["weight_bytes"])
    cheapest = min(pruned, key=lambda r: r["weight_bytes"])
    best = max(pruned, key=lambda r: r["exact"]["estimate"])
    beaten = [r for r in pruned if any(p["weight_bytes"] <= r["weight_bytes"] and p["exact"]["estimate"] >= r["exact"]["estimate"] for p in plain)]
    rest = [r for r in pruned if r not in beaten]
    above = all(r["weight_bytes"] > widest["weight_bytes"] for r in rest)
    significant = best["exact"]["lower"] > widest["exact"]["upper"]
    return [f"- {name}: the smallest pruned model ({cheapest['recipe']}, {cheapest['weight_bytes']} B, exact {pct(cheapest['exact']['estimate'])}%) "
            f"is larger than INT{widest['bits']} GPTQ ({widest['weight_bytes']} B, exact {interval(widest['exact'])}%); "
            f"{len(beaten)} of {len(pruned)} pruned points are matched or beaten by a plain width that costs no more"
            + (f", and the other {len(rest)} all cost more than INT{widest['bits']}" + (" (the sweep's widest plain width)" if above else "") if rest else "")
            + f". The best pruned point ({best['recipe']}, {best['weight_bytes']} B, {best['weight_bytes'] / widest['weight_bytes']:.1f}× "
            f"INT{widest['bits']}'s bytes) reaches {interval(best['exact'])}%: "
            + ("significantly above INT{0}".format(widest["bits"]) if significant else "not distinguishable from INT{0}".format(widest["bits"])) + "."]


def llm_section(folder):
    """SmolLM2 (a `shrink sweep --text` of pruning choices) and MiniLM (`shrink compare --sentences` per choice)."""
    path = os.path.join(folder, "smollm2.json")
    if not os.path.exists(path):
        return []
    r = load(path)
    rows = {(x["prune"], x["sparsity"]): x for x in r["rows"] if x.get("prune")}
    ppl0 = r["original_perplexity"]
    out = ["## SmolLM2-135M and all-MiniLM-L6-v2", "",
           f"SmolLM2-135M-Instruct (original = the Q4_1 release, dequantized; PPL {ppl0['value']:.2f} ± {ppl0['error']:.2f}) on "
           f"{r['chunks']} chunks × {r['context']} tokens of `{r['text']}`, pruned at 50% and 2:4 by each method (every block's "
           f"linear weights, per layer; Wanda and SparseGPT calibrated block by block on {r['calibration']}), the pruned weights "
           "kept unquantized and stored sparse, `shrink sweep --text` judging each against the original as llama-perplexity's "
           "`--kl-divergence` does. ΔNLL is the paired per-chunk difference of mean negative log-likelihood (nats/token) with "
           "its bootstrap interval.", "",
           "| sparsity | method | tensor bytes | PPL | mean KLD | same top-1 | ΔNLL/token (95%) | label |",
           "|---|---|---|---|---|---|---|---|"]
    for s in ["0.5", "2:4"]:
        for m in METHODS:
            x = rows.get((m, s))
            if x is None:
                continue
            d = x["chunk_nll_difference"]
            out.append(f"| {s} | {m} | {x['tensor_bytes']} | {x['perplexity']['value']:.2f} ± {x['perplexity']['error']:.2f} | "
                       f"{x['kld']['value']:.3f} ± {x['kld']['error']:.3f} | {pct(x['same_top']['value'])}% | "
                       f"{d['estimate']:.3f} [{d['lower']:.3f}, {d['upper']:.3f}] | {x['label']['evidence']} |")
    out += ["", "The published ordering (Llama-2-7B, WikiText-2 perplexity, dense 5.12): 50% magnitude 14.89, SparseGPT 6.51, "
            "Wanda 6.42; 2:4 magnitude 54.59, SparseGPT 10.17, Wanda 11.02. On SmolLM2 and the Austen evaluation novels:", ""]
    for s in ["0.5", "2:4"]:
        ours = {m: rows[(m, s)]["perplexity"]["value"] for m in METHODS if (m, s) in rows}
        if len(ours) < len(METHODS):
            continue
        theirs, mine = ordering(PUBLISHED[s]), ordering(ours)
        # Two methods are told apart when their paired per-chunk ΔNLL intervals do not overlap.
        def apart(a, b):
            da, db = rows[(a, s)]["chunk_nll_difference"], rows[(b, s)]["chunk_nll_difference"]
            return da["upper"] < db["lower"] or db["upper"] < da["lower"]
        gaps = ", ".join(f"{a} vs {b}: {'separated' if apart(a, b) else 'intervals overlap'}" for a, b in zip(mine, mine[1:]))
        label = "50% unstructured" if s == "0.5" else "2:4"
        verdict = ("the same ordering as published" if mine == theirs else
                   f"a different ordering: published {' < '.join(theirs)}, here {' < '.join(mine)}")
        out.append(f"- **{label}**: PPL " + ", ".join(f"{m} {ours[m]:.2f}" for m in mine) + f" (best first): {verdict} ({gaps}). "
                   f"Ratios to the dense model: " + ", ".join(f"{m} {ours[m] / ppl0['value']:.2f}×" for m in mine)
                   + "; published: " + ", ".join(f"{m} {PUBLISHED[s][m] / 5.12:.2f}×" for m in theirs) + ".")
    enc = sorted(f for f in os.listdir(folder) if f.startswith("minilm-") and f.endswith(".json"))
    if enc:
        first = load(os.path.join(folder, enc[0]))
        out += ["", f"all-MiniLM-L6-v2 (F32, {first['original']['weight_bytes']} weight bytes) pruned by `shrink quantize --prune M "
                f"--sparsity S` (Wanda and SparseGPT calibrated on 256 sentences of the calibration novels), stored sparse, and "
                f"compared by `shrink compare --sentences` on the first {first['sentences']} sentences of `{first['data']}`: "
                f"mean cosine of the sentence embeddings (95% bootstrap interval) and retrieval agreement (the share of each of "
                f"{first['queries']} queries' {first['neighbours']} nearest neighbours that both models find).", "",
                "| sparsity | method | weight bytes | embedding cosine (95%) | retrieval agreement (95%) | last hidden-state cosine |",
                "|---|---|---|---|---|---|"]
        encs = {}
        for f in enc:
            c = load(os.path.join(folder, f))
            _, m, s = f[:-5].split("-", 2)
            s = s.replace("-", ":")
            encs[(m, s)] = c
        for s in ["0.5", "2:4"]:
            for m in METHODS:
                c = encs.get((m, s))
                if c is None:
                    continue
                out.append(f"| {s} | {m} | {c['compressed']['weight_bytes']} | {c['embedding_cosine']['estimate']:.4f} "
                           f"[{c['embedding_cosine']['lower']:.4f}, {c['embedding_cosine']['upper']:.4f}] | "
                           f"{interval(c['retrieval_agreement'])}% | {c['hidden_states'][-1]['cosine']['estimate']:.4f} |")
        for s in ["0.5", "2:4"]:
            cos = {m: encs[(m, s)]["embedding_cosine"]["estimate"] for m in METHODS if (m, s) in encs}
            if len(cos) == len(METHODS):
                best = sorted(cos, key=cos.get, reverse=True)
                out.append("")
                out.append(f"- MiniLM at {'50%' if s == '0.5' else '2:4'}: embedding cosine " + " > ".join(f"{m} {cos[m]:.4f}" for m in best) + ".")
    return out + [""]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    p.add_argument("output")
    p.add_argument("--command", default="tools/prune_study.sh")
    p.add_argument("--fixtures", default="", help="every fixture the study covers, comma-separated (those without a sweep are listed as not run)")
    a = p.parse_args()
    names = sorted(f[:-5] for f in os.listdir(a.folder) if f.endswith(".json") and not f.endswith("-lowrank.json") and not f.startswith("plan-"))
    if not names:
        raise SystemExit(f"{a.folder}: no pruning sweeps (*.json); run tools/prune_study.sh")
    counts = sorted({load(os.path.join(a.folder, n + ".json"))["puzzles"] for n in names})
    lines = ["# Pruning and low-rank compensation: the recursive reasoners, SmolLM2 and MiniLM", "",
             f"Generated by `{a.command}` (then `python3 tools/prune_study.py {a.folder} {a.output}`) from the sweeps in "
             f"[{a.folder}/]({a.folder}/): `shrink sweep --prune magnitude,wanda,sparsegpt --sparsity 0.1,…,0.9,2:4 --bits none` on "
             f"{' or '.join(map(str, counts))} held-out puzzles per fixture, and `shrink sweep --bits 4,3,2 --methods gptq --ranks 0,4,8,16,32 "
             f"--low-rank-method eora`. Wanda, SparseGPT, GPTQ and EoRA are calibrated on 256 training puzzles. The question "
             f"(issue 17): does sparsity keep the cells while destroying whole puzzles, and at which sparsity; and does a rank "
             f"buy more than a bit.", "",
             "Scope: unstructured and N:M pruning in the sweeps; structured pruning with the shapes shrunk, in its own section: "
             "MLP channels (and TRM-MLP's token-MLP rows) by `shrink prune --structured mlp`, attention heads by "
             "`shrink prune --structured heads`.", ""]
    missing = [f for f in a.fixtures.split(",") if f and f not in names]
    if missing:
        lines += [f"Not run yet (CPU time; `tools/prune_study.sh {' '.join(missing)}` adds them): {', '.join(missing)}.", ""]
    for n in names:
        section, _ = pruning_section(n, load(os.path.join(a.folder, n + ".json")))
        lines += section
    sdir = os.path.join(a.folder, "structured")
    comps = sorted(f for f in os.listdir(sdir) if f.endswith(".json")) if os.path.isdir(sdir) else []
    if comps:
        lines += ["## Structured pruning: MLP channels and attention heads", "",
                  "`shrink prune --structured mlp --method magnitude|wanda --sparsity F` removes ⌊F·width⌋ channels of every "
                  "SwiGLU (and token MLP); `--structured heads` removes ⌊F·heads⌋ of every attention layer's heads (their q, k, v "
                  "rows and o_proj columns; the attention fixtures have 4 heads, so 10% removes none and is not run). Shapes are "
                  "shrunk; `shrink compare` pairs the smaller model with FP32 on the same puzzles. "
                  "The recursive-reasoner paper reports that 25% structured pruning takes puzzle-exact accuracy to 0% while cells hold.", "",
                  "| fixture | removed | method | fraction | weight bytes (FP32 → pruned) | exact (95%) | Δexact vs FP32 | Δcell vs FP32 | carry fidelity | label |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        verdicts = []
        parsed = []
        for f in comps:
            m = re.fullmatch(r"(.+?)(-heads)?-(magnitude|wanda)-([0-9.]+)\.json", f)
            if not m:
                raise SystemExit(f"{sdir}/{f}: not <fixture>[-heads]-<method>-<fraction>.json")
            parsed.append((m.group(1), "heads" if m.group(2) else "MLP channels", m.group(3), m.group(4), f))
        for fixture, what, method, fraction, f in sorted(parsed):
            c = load(os.path.join(sdir, f))
            acc = c["compressed"]["accuracy"]
            lines.append(f"| {fixture} | {what} | {method} | {fraction} | {c['original']['weight_bytes']} → {c['compressed']['weight_bytes']} | "
                         f"{interval(acc['exact'])} | {interval(c['exact_difference'])} | {interval(c['cell_difference'])} | "
                         f"{c['final_fidelity']['carry']['estimate']:.4f} | {c['label']['evidence']} |")
            if fraction == "0.25":
                zero = acc["exact"]["upper"] < 0.01
                verdicts.append(f"- {fixture}, {what}, {method} at 25%: exact {pct(acc['exact']['estimate'])}% (Δ {interval(c['exact_difference'])} points), "
                                f"cells Δ {interval(c['cell_difference'])} points: "
                                + ("agrees with the paper (exact collapses to 0)" if zero else
                                   "nearly agrees with the paper (exact below 10%, but its interval excludes 0)" if acc["exact"]["estimate"] < 0.10 else
                                   "exact does not collapse to 0: the paper's claim does not hold here")
                                + (f"; whole puzzles lose {c['exact_difference']['estimate'] / c['cell_difference']['estimate']:.1f}× as many points as cells"
                                   if c["cell_difference"]["estimate"] < 0 else "") + ".")
        lines += [""] + verdicts + [""]
    lr = [n for n in names if os.path.exists(os.path.join(a.folder, n + "-lowrank.json"))]
    if lr:
        lines += ["## Low-rank compensation: a rank against a bit", "",
                  "Weight bytes count the packed weights, their scales and the F16 factors A [rows, r] and B [r, columns] "
                  "exactly as `shrink quantize --low-rank` writes them.", ""]
        for n in lr:
            lines += lowrank_section(n, load(os.path.join(a.folder, n + "-lowrank.json")))
    against = []
    for n in lr:
        against += sparsity_against_bits(n, load(os.path.join(a.folder, n + ".json")), load(os.path.join(a.folder, n + "-lowrank.json")))
    if against:
        lines += ["## Sparsity against bits under a byte budget", "",
                  "Pruned weights are stored sparse at full precision (f32 values of the kept weights plus one mask bit per weight, or "
                  "2:4's metadata); pruned + quantized weights are stored as packed codes with no bytes saved. Against the plain GPTQ "
                  "widths of the low-rank sweeps (per channel, rank 0):", ""] + against + [
                  "", "So with the storage formats that exist here a pruned model never fits a budget that INT4 fits, and where it is "
                  "larger it competes with wider bit widths (INT6, INT8: 1.5–2× INT4's bytes, whose Δexact against FP32 is within ±1.1 points on every fixture of STUDY.md), "
                  "which `shrink plan` already offers. That is why the planner is not offered sparsity; a packed sparse + quantized "
                  "format (2:4 with 4-bit values, say) would change this.", ""]
    if os.path.isdir(os.path.join(a.folder, "llm")):
        lines += llm_section(os.path.join(a.folder, "llm"))
    plans = sorted(f for f in os.listdir(a.folder) if f.startswith("plan-") and f.endswith("-bits.json"))
    if plans:
        lines += ["## The planner with ranks against bits alone", "",
                  "`shrink plan Fixtures/models/trm_mlp_sudoku6 --device soc-8mb-sram --max-bytes B` over RTN and GPTQ per channel, "
                  "without and with `--ranks 8,16` (EoRA): does the knapsack, given the ranks, find a better point at the same budget? "
                  "Each plan is applied and measured on the held-out puzzles.", "",
                  "| budget | options | weight bytes | ranks chosen | recipe | exact (95%) | Δexact vs FP32 | carry fidelity | label |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for f in plans:
            budget = f[len("plan-"):-len("-bits.json")]
            for kind in ["bits", "ranks"]:
                path = os.path.join(a.folder, f"plan-{budget}-{kind}.json")
                if not os.path.exists(path):
                    continue
                m = load(path)["models"][0]
                me = m["measurement"]
                chosen = [c for c in m["quantize"].values() if c.get("low_rank")]
                kinds = {}
                for c in m["quantize"].values():
                    key = f"int{c['bits']} {c['method']}" + (f" r{c['low_rank']['rank']}" if c.get("low_rank") else "")
                    kinds[key] = kinds.get(key, 0) + 1
                recipe = ", ".join(f"{v}× {k}" for k, v in sorted(kinds.items()))
                lines.append(f"| {budget} | {'bits' if kind == 'bits' else 'bits + ranks 8, 16'} | {m['prediction']['weight_bytes']} | {len(chosen)} | "
                             f"{recipe} | {interval(me['exact'])} | {interval(me['exact_difference'])} | {me['carry_fidelity']:.4f} | "
                             f"{me['label']['evidence']} |")
        lines.append("")
    text = "\n".join(lines).rstrip() + "\n"
    tmp = a.output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, a.output)
    print(f"wrote {a.output}: {len(names)} pruning sweeps, {len(lr)} low-rank sweeps")


if __name__ == "__main__":
    main()
