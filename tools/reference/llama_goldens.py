#!/usr/bin/env python3
"""Parity goldens for the Swift Llama-family decoder (Sources/ShrinkModels/Llama/).

Three outputs, all deterministic (fixed seeds, fixed text offsets):

1. models/smollm2-hf/ (git-ignored): SmolLM2-135M-Instruct loaded by transformers from the Q4_1 GGUF
   (transformers dequantizes every tensor and undoes llama.cpp's Q/K row permutation) and written back with
   `save_pretrained` as HF-named F32 safetensors plus config.json.
2. Tests/Fixtures/llama/smollm2/golden.safetensors (committed, < 1 MB): 2 sequences x 128 token ids cut
   from data/text/evaluation.txt with the GGUF's own tokenizer, then the transformers FP32 forward pass:
     inputs            [2, 128] int32
     logits_columns    [C] int32           a fixed subset of vocabulary columns (every 389th id plus each
                                            sequence's next tokens)
     logits            [2, 128, C] f32     logits at those columns, every position
     logsumexp         [2, 128] f32        log Σ exp(logits) over the full vocabulary (checks every column)
     argmax            [2, 128] int32      full-vocabulary argmax
     hidden_positions  [P] int32
     hidden            [L+1, 2, P, H] f32  output_hidden_states (embeddings first, last after the final norm)
3. Tests/Fixtures/llama/{qwen2-tiny,llama-tiny}/ (committed): tiny RANDOM models (Qwen2 with q/k/v bias and an
   untied head; Llama with an untied head and GQA) with config.json, model.safetensors and golden.safetensors
   (inputs [2, 24], logits [2, 24, V], hidden [L+1, 2, 24, H]); qwen2-tiny also as model.gguf (llama.cpp
   `qwen2` names and metadata, written by gguf-py).

    .venv-tools/bin/python tools/reference/llama_goldens.py
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
gguf_dir = os.path.join(root, "models", "smollm2")
gguf_name = "SmolLM2-135M-Instruct.Q4_1.gguf"
hf_dir = os.path.join(root, "models", "smollm2-hf")
fixtures = os.path.join(root, "Tests", "Fixtures", "llama")

torch.manual_seed(0)
torch.set_num_threads(2)


def smollm2():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not os.path.exists(os.path.join(gguf_dir, gguf_name)):
        sys.exit(f"missing {gguf_dir}/{gguf_name}: run tools/fetch_real.sh")
    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    if not os.path.exists(os.path.join(hf_dir, "model.safetensors")):
        model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name, dtype=torch.float32)
        # save_pretrained refuses a GGUF-loaded model ("quantized with gguf"): write the dequantized state dict
        # and the config (without its quantization marker) directly. A tied head is the embedding: not stored.
        os.makedirs(hf_dir, exist_ok=True)
        state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        save_file(state, os.path.join(hf_dir, "model.safetensors"), metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        with open(os.path.join(hf_dir, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
        tok.save_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32, attn_implementation="eager").eval()

    with open(os.path.join(root, "data", "text", "evaluation.txt"), encoding="utf-8") as f:
        text = f.read()
    # Two passages well inside the two novels (Persuasion, then Northanger Abbey), not their title pages.
    seqs = []
    for offset in (20_000, 600_000):
        ids = tok(text[offset:offset + 4000], add_special_tokens=False)["input_ids"]
        seqs.append(ids[:128])
    inputs = torch.tensor(seqs, dtype=torch.long)

    with torch.no_grad():
        out = model(input_ids=inputs, output_hidden_states=True, use_cache=False)
    logits = out.logits.float()
    vocab = logits.shape[-1]
    columns = sorted(set(range(0, vocab, 389)) | set(inputs.flatten().tolist()))
    positions = [0, 1, 64, 127]
    hidden = torch.stack([h[:, positions, :] for h in out.hidden_states])
    tensors = {
        "inputs": inputs.to(torch.int32).contiguous(),
        "logits_columns": torch.tensor(columns, dtype=torch.int32),
        "logits": logits[:, :, columns].contiguous(),
        "logsumexp": torch.logsumexp(logits, dim=-1).contiguous(),
        "argmax": logits.argmax(dim=-1).to(torch.int32).contiguous(),
        "hidden_positions": torch.tensor(positions, dtype=torch.int32),
        "hidden": hidden.contiguous(),
    }
    dst = os.path.join(fixtures, "smollm2")
    os.makedirs(dst, exist_ok=True)
    save_file(tensors, os.path.join(dst, "golden.safetensors"), metadata={"source": gguf_name})
    print("smollm2:", {k: tuple(v.shape) for k, v in tensors.items()})


def tiny(name, config_cls, model_cls, **kw):
    torch.manual_seed(1234)
    cfg = config_cls(**kw)
    model = model_cls(cfg).eval()
    # Default init leaves norms at 1 and biases at 0: randomize them so they are exercised.
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif n.endswith("bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
    dst = os.path.join(fixtures, name)
    os.makedirs(dst, exist_ok=True)
    model.save_pretrained(dst, safe_serialization=True)
    rng = np.random.default_rng(7)
    inputs = torch.tensor(rng.integers(0, cfg.vocab_size, size=(2, 24)), dtype=torch.long)
    with torch.no_grad():
        out = model(input_ids=inputs, output_hidden_states=True, use_cache=False)
    tensors = {
        "inputs": inputs.to(torch.int32).contiguous(),
        "logits": out.logits.float().contiguous(),
        "hidden": torch.stack(out.hidden_states).contiguous(),
    }
    save_file(tensors, os.path.join(dst, "golden.safetensors"))
    if cfg.model_type == "qwen2":
        write_qwen2_gguf(model, cfg, os.path.join(dst, "model.gguf"))
    # save_pretrained may add generation_config.json: the fixture needs only the three files.
    gen = os.path.join(dst, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    print(name, {k: tuple(v.shape) for k, v in tensors.items()})


def write_qwen2_gguf(model, cfg, path):
    """The same weights as a llama.cpp `qwen2` GGUF (F32), named as convert_hf_to_gguf.py names them. The qwen2
    architecture runs NEOX (rotate-half) RoPE, so unlike `llama` its Q/K rows are stored unpermuted."""
    import gguf

    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    w = gguf.GGUFWriter(path, "qwen2")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(0)
    for name, p in sorted(model.state_dict().items()):
        a = p.detach().float().numpy().copy()
        if name == "model.embed_tokens.weight":
            out = "token_embd.weight"
        elif name == "model.norm.weight":
            out = "output_norm.weight"
        elif name == "lm_head.weight":
            out = "output.weight"
        else:
            parts = name.split(".")  # model.layers.N.<module...>.weight|bias
            out = f"blk.{parts[2]}.{names['.'.join(parts[3:-1])]}.{parts[-1]}"
        w.add_tensor(out, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tinies():
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    common = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  vocab_size=256, max_position_embeddings=128, tie_word_embeddings=False, attn_implementation="eager")
    tiny("qwen2-tiny", Qwen2Config, Qwen2ForCausalLM, rms_norm_eps=1e-6, rope_theta=10000.0, **common)
    tiny("llama-tiny", LlamaConfig, LlamaForCausalLM, rms_norm_eps=1e-5, rope_theta=500000.0, **common)


if __name__ == "__main__":
    tinies()
    smollm2()
