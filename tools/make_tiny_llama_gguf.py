#!/usr/bin/env python3
"""A tiny random llama-architecture GGUF (F32) for llama-quantize, written with gguf-py 0.19.0.

usage: make_tiny_llama_gguf.py OUT.gguf
Every row length is a multiple of 256, so llama-quantize --pure gives every 2-D weight the
requested type, k-quants included (SmolLM2's 576-wide rows make them fall back). Used by
tools/check_gguf_read.sh; not committed output. Deterministic (fixed seed).
"""
import sys

import numpy as np
import gguf

EMBD, FF, VOCAB, LAYERS, HEADS = 256, 512, 256, 1, 4


def main(path):
    rng = np.random.default_rng(7)
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(LAYERS)
    w.add_context_length(128)
    w.add_embedding_length(EMBD)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(VOCAB)
    w.add_file_type(0)

    def t(name, *shape):  # shape in PyTorch order [out, in]
        w.add_tensor(name, (rng.standard_normal(shape) * 0.05).astype(np.float32))

    t("token_embd.weight", VOCAB, EMBD)
    w.add_tensor("output_norm.weight", np.ones(EMBD, dtype=np.float32))
    for i in range(LAYERS):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(EMBD, dtype=np.float32))
        for n in ["attn_q", "attn_k", "attn_v", "attn_output"]:
            t(f"blk.{i}.{n}.weight", EMBD, EMBD)
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(EMBD, dtype=np.float32))
        t(f"blk.{i}.ffn_gate.weight", FF, EMBD)
        t(f"blk.{i}.ffn_up.weight", FF, EMBD)
        t(f"blk.{i}.ffn_down.weight", EMBD, FF)
    t("output.weight", VOCAB, EMBD)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
