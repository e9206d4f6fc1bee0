#!/usr/bin/env python3
"""Independent NumPy implementation of ARCHITECTURE.md (inference, sections
3-8), written from the document and not from models.py. It checks that the
document is complete: its outputs must match goldens.py output.

    python tools/reference/spec_check.py MODEL_DIR GOLDEN.safetensors
"""

import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file


def f32(a):
    return np.asarray(a, dtype=np.float32)


def linear(x, w, b=None):
    y = f32(x @ w.T)
    return y if b is None else f32(y + b)


def rms_norm(v, eps):
    return f32(v / np.sqrt(np.mean(v * v, axis=-1, keepdims=True) + np.float32(eps)))


def silu(a):
    return f32(a / (np.float32(1) + np.exp(-a)))


def swiglu_inter(n, expansion):
    r = round(expansion * n * 2 / 3)
    return -(r // -256) * 256


def swiglu(v, W, prefix):
    wgu, wd = W[prefix + "gate_up_proj.weight"], W[prefix + "down_proj.weight"]
    inter = wd.shape[1]
    u = linear(v, wgu)
    return linear(silu(u[..., :inter]) * u[..., inter:], wd)


def softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return f32(e / e.sum(-1, keepdims=True))


def rope_tables(d, P, theta):
    inv = f32(1.0 / (np.float32(theta) ** (np.arange(0, d, 2, dtype=np.float32) / np.float32(d))))
    ang = f32(np.arange(P, dtype=np.float32)[:, None] * np.concatenate([inv, inv])[None, :])
    return f32(np.cos(ang)), f32(np.sin(ang))


def rotate_half(z):
    h = z.shape[-1] // 2
    return np.concatenate([-z[..., h:], z[..., :h]], axis=-1)


def attention(h, W, prefix, nH, rope):
    B, P, D = h.shape
    d = D // nH
    qkv = linear(h, W[prefix + "qkv_proj.weight"])
    q = qkv[..., 0:D].reshape(B, P, nH, d)
    k = qkv[..., D:2 * D].reshape(B, P, nH, d)
    v = qkv[..., 2 * D:].reshape(B, P, nH, d)
    if rope is not None:
        cos, sin = rope[0][:, None, :], rope[1][:, None, :]
        q = f32(q * cos + rotate_half(q) * sin)
        k = f32(k * cos + rotate_half(k) * sin)
    s = f32(np.einsum("bpkj,bqkj->bkpq", q, k) / np.float32(np.sqrt(d)))
    a = softmax(s)
    o = f32(np.einsum("bkpq,bqkj->bpkj", a, v)).reshape(B, P, D)
    return linear(o, W[prefix + "o_proj.weight"])


def block(h, W, prefix, c, rope):
    eps = c["rms_norm_eps"]
    if c["mlp_t"]:
        g = np.swapaxes(h, 1, 2)
        g = rms_norm(g + swiglu(g, W, prefix + "mlp_t."), eps)
        h = np.ascontiguousarray(np.swapaxes(g, 1, 2))
    else:
        h = rms_norm(h + attention(h, W, prefix + "self_attn.", c["num_heads"], rope), eps)
    return rms_norm(h + swiglu(h, W, prefix + "mlp."), eps)


def module(hidden, injection, W, name, n_layers, c, rope):
    h = f32(hidden + injection)
    for i in range(n_layers):
        h = block(h, W, f"inner.{name}.layers.{i}.", c, rope)
    return h


def input_embedding(inputs, pids, W, c):
    D, E = c["hidden_size"], c["puzzle_emb_len"]
    e = W["inner.embed_tokens.embedding_weight"][inputs]
    if c["puzzle_emb_ndim"] > 0:
        pe = W["inner.puzzle_emb.weights"][pids]
        pe = np.pad(pe, ((0, 0), (0, E * D - pe.shape[1]))).reshape(-1, E, D)
        e = np.concatenate([pe, e], axis=1)
    if c["pos_encodings"] == "learned":
        e = f32(np.float32(0.707106781) * (e + W["inner.embed_pos.embedding_weight"]))
    return f32(np.float32(np.sqrt(D)) * e)


def main():
    model_dir, golden = sys.argv[1], sys.argv[2]
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    W = load_file(os.path.join(model_dir, "model.safetensors"))
    G = load_file(golden)
    inputs, pids = G["inputs"], G["puzzle_identifiers"]
    B, P, D, E = inputs.shape[0], c["seq_len"] + c["puzzle_emb_len"], c["hidden_size"], c["puzzle_emb_len"]
    rope = None
    if c["pos_encodings"] == "rope" and not c["mlp_t"]:
        rope = rope_tables(D // c["num_heads"], P, c["rope_theta"])
    U_name, U_layers = ("H_level", c["H_layers"]) if c["arch"] == "hrm" else ("L_level", c["L_layers"])

    x = input_embedding(inputs, pids, W, c)
    worst = {}

    def cmp(name, ours, ref):
        err = float(np.max(np.abs(ours.astype(np.float64) - ref)) / (np.max(np.abs(ref)) + 1e-12))
        worst[name] = max(worst.get(name, 0.0), err)

    cmp("input_embeddings", x, G["input_embeddings"])
    if rope is not None:
        cmp("rope", np.stack(rope), np.stack([G["rope.cos"], G["rope.sin"]]))
    z_H = np.broadcast_to(W["inner.H_init"], (B, P, D)).astype(np.float32)
    z_L = np.broadcast_to(W["inner.L_init"], (B, P, D)).astype(np.float32)
    S = G["logits"].shape[0]
    T = G["trace.z_L"].shape[0] if "trace.z_L" in G else 0
    mismatches = 0
    for s in range(S):
        for h in range(c["H_cycles"]):
            for l in range(c["L_cycles"]):
                z_L = module(z_L, f32(z_H + x), W, "L_level", c["L_layers"], c, rope)
                if s < T:
                    cmp("free: trace.z_L", z_L, G["trace.z_L"][s, h, l])
            z_H = module(z_H, z_L, W, U_name, U_layers, c, rope)
            if s < T:
                cmp("free: trace.z_H", z_H, G["trace.z_H"][s, h])
        logits = linear(z_H[:, E:], W["inner.lm_head.weight"])
        q = linear(z_H[:, 0], W["inner.q_head.weight"], W["inner.q_head.bias"])
        cmp("free: z_H", z_H, G["z_H"][s]); cmp("free: z_L", z_L, G["z_L"][s])
        cmp("free: logits", logits, G["logits"][s])
        cmp("free: q_halt", q[:, 0], G["q_halt_logits"][s]); cmp("free: q_continue", q[:, 1], G["q_continue_logits"][s])
        mismatches += int((logits.argmax(-1) != G["predictions"][s]).sum())

    # Teacher-forced: every update starts from the golden state before it, so
    # errors do not compound through the recursion.
    z_H = np.broadcast_to(W["inner.H_init"], (B, P, D)).astype(np.float32)
    z_L = np.broadcast_to(W["inner.L_init"], (B, P, D)).astype(np.float32)
    for s in range(T):
        if s > 0:
            z_H, z_L = G["z_H"][s - 1], G["z_L"][s - 1]
        for h in range(c["H_cycles"]):
            for l in range(c["L_cycles"]):
                cmp("forced: L update", module(z_L, f32(z_H + x), W, "L_level", c["L_layers"], c, rope), G["trace.z_L"][s, h, l])
                z_L = G["trace.z_L"][s, h, l]
            cmp("forced: H update", module(z_H, z_L, W, U_name, U_layers, c, rope), G["trace.z_H"][s, h])
            z_H = G["trace.z_H"][s, h]
        cmp("forced: logits", linear(z_H[:, E:], W["inner.lm_head.weight"]), G["logits"][s])
        q = linear(z_H[:, 0], W["inner.q_head.weight"], W["inner.q_head.bias"])
        cmp("forced: q", q, np.stack([G["q_halt_logits"][s], G["q_continue_logits"][s]], -1))

    for k, v in worst.items():
        print(f"{k:22s} max |diff| / max |ref| = {v:.2e}")
    print(f"free-running argmax mismatches over {S} steps: {mismatches}")
    forced = [v for k, v in worst.items() if not k.startswith("free")]
    ok = all(v < 1e-4 for v in forced) and (T > 0)
    print("PASS (teacher-forced updates within 1e-4)" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
