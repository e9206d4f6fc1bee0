#!/usr/bin/env python3
"""Write a synthetic Llama-2-7B-shaped checkpoint (random F16 weights, sharded safetensors).

    make_synthetic_llama.py [OUT_DIR] [--seed 0] [--layers 32] [--shard-gb 2]

The shapes are Llama-2-7B's (meta-llama/Llama-2-7b-hf config.json): 32 layers,
hidden 4096, 32 heads (no GQA), FFN 11008, vocab 32000, untied lm_head, RMSNorm
eps 1e-5, RoPE theta 1e4. Tensor names are transformers' LlamaForCausalLM ones
(Sources/ShrinkModels/Llama/LlamaConfig.swift, LlamaNames). The folder holds
config.json (model_type llama), model-0000k-of-0000n.safetensors shards of at
most --shard-gb GB and model.safetensors.index.json, ≈ 13.5 GB at 32 layers.

For time and memory measurements only (issue 14, "7B class on this machine"):
the weights are N(0, 1/fan_in) and mean nothing. Each tensor comes from its own
seeded generator and is written as soon as it is made, so the output is
byte-identical for the same arguments and the script needs about one tensor of
memory. Default OUT_DIR: /tmp/shrink-llama7b (never commit it).
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

HIDDEN, FFN, VOCAB, HEADS = 4096, 11008, 32000, 32


def tensors(layers: int) -> list[tuple[str, tuple[int, ...]]]:
    out = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", (HIDDEN,)),
            (p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)),
            (p + "self_attn.k_proj.weight", (HIDDEN, HIDDEN)),
            (p + "self_attn.v_proj.weight", (HIDDEN, HIDDEN)),
            (p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)),
            (p + "post_attention_layernorm.weight", (HIDDEN,)),
            (p + "mlp.gate_proj.weight", (FFN, HIDDEN)),
            (p + "mlp.up_proj.weight", (FFN, HIDDEN)),
            (p + "mlp.down_proj.weight", (HIDDEN, FFN)),
        ]
    out += [("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]
    return out


def values(seed: int, index: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng([seed, index])
    if len(shape) == 1:
        return (1.0 + 0.05 * rng.standard_normal(shape, dtype=np.float32)).astype("<f2")
    out = np.empty(shape, dtype="<f2")
    scale = np.float32(1.0 / np.sqrt(shape[1]))
    step = max(1, (1 << 24) // shape[1])  # ~64 MB of f32 at a time
    for r in range(0, shape[0], step):
        block = rng.standard_normal((min(step, shape[0] - r), shape[1]), dtype=np.float32)
        block *= scale
        out[r:r + block.shape[0]] = block
    return out


def config(layers: int) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": FFN, "num_hidden_layers": layers, "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS, "head_dim": HIDDEN // HEADS, "vocab_size": VOCAB,
        "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "hidden_act": "silu", "tie_word_embeddings": False, "torch_dtype": "float16",
        "bos_token_id": 1, "eos_token_id": 2, "attention_bias": False,
        "_comment": "synthetic, random weights: tools/make_synthetic_llama.py",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default="/tmp/shrink-llama7b")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--shard-gb", type=float, default=2.0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    all_tensors = tensors(args.layers)
    limit = int(args.shard_gb * 1e9)
    shards, current, size = [], [], 0
    for i, (name, shape) in enumerate(all_tensors):
        nbytes = 2 * int(np.prod(shape))
        if current and size + nbytes > limit:
            shards.append(current)
            current, size = [], 0
        current.append((i, name, shape))
        size += nbytes
    shards.append(current)

    weight_map, total = {}, 0
    for k, shard in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {}, 0
        for _, name, shape in shard:
            nbytes = 2 * int(np.prod(shape))
            header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = fname
        header["__metadata__"] = {"format": "pt", "producer": "tools/make_synthetic_llama.py", "seed": str(args.seed)}
        blob = json.dumps(header, separators=(",", ":")).encode()
        blob += b" " * (-len(blob) % 8)
        path = os.path.join(args.out, fname)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(blob)))
            f.write(blob)
            for i, _, shape in shard:
                f.write(values(args.seed, i, shape).tobytes())
        os.replace(tmp, path)
        total += offset
        print(f"{fname}: {offset / 1e9:.2f} GB", file=sys.stderr)

    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config(args.layers), f, indent=2)
    params = sum(int(np.prod(s)) for _, s in all_tensors)
    print(json.dumps({"out": args.out, "bytes": total, "parameters": params, "tensors": len(all_tensors),
                      "shards": len(shards)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
