"""Writes the fuzz seed corpora (Fuzz/Corpus/<Target>/, FUZZING.md) from the committed fixtures.

Copies the valid and hostile fixtures each parser already has (hostile corpora of tools/make_hostile_corpus.py and
tools/make_hostile_gguf.py, tiny models, tokenizers, plans), and generates what no fixture covers small enough:
ggml blocks of every type, GGUF files that hold only tokenizer metadata (from the tiny BPE tokenizer.json), puzzle
sets cut to a few rows, and the built-in device profiles. Deterministic; files over 64 KB are skipped (the fuzzers'
max_len). Run: .venv-tools/bin/python tools/make_fuzz_seeds.py
"""
import glob
import json
import os
import random
import shutil
import struct

import gguf
import numpy as np
from safetensors.numpy import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fuzz", "Corpus")
LIMIT = 65536


def target(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def copy(dst, patterns, prefix=""):
    n = 0
    for pattern in patterns:
        for src in sorted(glob.glob(os.path.join(ROOT, pattern))):
            if os.path.isfile(src) and os.path.getsize(src) <= LIMIT:
                rel = os.path.relpath(src, ROOT).replace("/", "_")
                shutil.copyfile(src, os.path.join(dst, prefix + rel))
                n += 1
    return n


def main():
    d = target("FuzzSafetensors")
    copy(d, ["Tests/Fixtures/hostile/*.safetensors", "Tests/Fixtures/dtypes.safetensors", "Tests/Fixtures/tiny/*/data.safetensors",
             "Tests/Fixtures/sharded/*.safetensors", "Tests/Fixtures/hostile/shard_*/*.safetensors"])

    d = target("FuzzShardIndex")
    copy(d, ["Tests/Fixtures/sharded/*.json", "Tests/Fixtures/hostile/shard_*/*.json"])
    # Indexes over the harness's own shards (a, b, c): valid, a missing tensor, a shard outside the folder.
    for i, wm in enumerate([{"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors",
                             "c": "model-00002-of-00002.safetensors"},
                            {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
                            {"a": "../model-00001-of-00002.safetensors"}]):
        with open(os.path.join(d, f"harness_{i}.json"), "w") as f:
            json.dump({"metadata": {"total_size": 16}, "weight_map": wm}, f)

    d = target("FuzzStrictJSON")
    copy(d, ["Tests/Fixtures/hostile/cases.json", "Tests/Fixtures/hostile/gguf/cases.json", "Tests/Fixtures/dtypes.json",
             "Tests/Fixtures/plan/*.json", "Tests/Fixtures/tiny/*/config.json", "plans/hrm_sudoku6-mcu-4mb.json",
             "Tests/Fixtures/sharded/*.json"])
    for i, text in enumerate(['{"a":[1,-0.5e+3,true,false,null,"\\u00e9\\ud83d\\ude00\\n"]}', '[[[[]]]]', '"\\"', '1e400', '{"a":1,"a":2}']):
        with open(os.path.join(d, f"edge_{i}.json"), "w") as f:
            f.write(text)

    d = target("FuzzGGUF")
    copy(d, ["Tests/Fixtures/hostile/gguf/*.gguf", "Tests/Fixtures/gguf/*.gguf"])

    d = target("FuzzGGMLBlocks")
    rng = random.Random(19)
    # The first byte picks GGMLType.allCases[b % 13] (f32 f16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K bf16).
    block_bytes = [4, 2, 18, 20, 22, 24, 34, 84, 110, 144, 176, 210, 2]
    for i, b in enumerate(block_bytes):
        with open(os.path.join(d, f"type_{i:02d}"), "wb") as f:
            f.write(bytes([i]) + bytes(rng.randrange(256) for _ in range(b * 3)))

    d = target("FuzzConfig")
    copy(d, ["Tests/Fixtures/tiny/*/config.json", "Tests/Fixtures/llama/*/config.json", "Fixtures/default/config.json",
             "Fixtures/models/*/config.json", "models/minilm/config.json"])

    d = target("FuzzRecipe")
    copy(d, ["plans/*.json", "Tests/Fixtures/calib/*.json"])
    with open(os.path.join(d, "recipe_one.json"), "w") as f:
        json.dump({"quantize": {"*": {"bits": 4, "strategy": "group", "group_size": 32, "method": "rtn"}}, "calibration_puzzles": 8}, f)

    d = target("FuzzDeviceProfile")
    with open(os.path.join(ROOT, "Sources/ShrinkPlan/DeviceProfile.swift")) as f:
        source = f.read()
    for i, block in enumerate(source.split('"""')[1::2]):
        text = "\n".join(line.strip() for line in block.strip().splitlines())
        with open(os.path.join(d, f"builtin_{i}.json"), "w") as f:
            f.write(text)

    d = target("FuzzTokenizerJSON")
    # Each tokenizer.json cut to its first 300 ids (merges between kept tokens only), so one execution takes
    # microseconds, not the milliseconds a 30 KB vocabulary costs.
    for src in sorted(glob.glob(os.path.join(ROOT, "Tests/Fixtures/tokenizers/*.json"))):
        with open(src) as f:
            tj = json.load(f)
        if "model" not in tj:
            continue
        model = tj["model"]
        model["vocab"] = {t: i for t, i in model["vocab"].items() if i < 300}
        if "merges" in model:
            keep = set(model["vocab"])
            merges = [m if isinstance(m, list) else m.split(" ") for m in model["merges"]]
            model["merges"] = [m for m in merges if len(m) == 2 and m[0] in keep and m[1] in keep and m[0] + m[1] in keep]
        tj["added_tokens"] = [t for t in tj.get("added_tokens", []) if t["id"] < 300]
        with open(os.path.join(d, "cut300_" + os.path.basename(src)), "w") as f:
            json.dump(tj, f, ensure_ascii=False)

    # A WordPiece tokenizer.json: MiniLM's pipeline (normalizer, pre-tokenizer, post-processor, decoder) when
    # models/minilm is fetched, with a made-up 300-token vocabulary (specials, letters, digits, ## pieces, words).
    minilm = os.path.join(ROOT, "models/minilm/tokenizer.json")
    if os.path.exists(minilm):
        with open(minilm) as f:
            tj = json.load(f)
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(i) for i in range(10)] + list(".,!?'-")
        words = ["the", "of", "and", "to", "in", "was", "it", "her", "she", "he", "hello", "world", "emma", "ing", "ed"]
        vocab = specials + letters + ["##" + x for x in letters] + words + ["##" + w for w in words]
        vocab += ["w%d" % i for i in range(300 - len(vocab))]
        tj["model"]["vocab"] = {t: i for i, t in enumerate(vocab)}
        ids = {t: i for i, t in enumerate(vocab)}
        tj["added_tokens"] = [dict(t, id=ids[t["content"]]) for t in tj.get("added_tokens", []) if t["content"] in ids]
        pp = tj.get("post_processor") or {}
        for name, tok in (pp.get("special_tokens") or {}).items():
            tok["ids"] = [ids.get(name, 1)]
        for key in ("cls", "sep"):
            if key in pp:
                pp[key] = [pp[key][0], ids.get(pp[key][0], 1)]
        tj["truncation"] = None
        tj["padding"] = None
        with open(os.path.join(d, "wordpiece_minilm_pipeline.json"), "w") as f:
            json.dump(tj, f, ensure_ascii=False)

    d = target("FuzzGGUFTokenizer")
    with open(os.path.join(ROOT, "Tests/Fixtures/tokenizers/bpe_tiny_gpt2.json")) as f:
        tj = json.load(f)
    vocab = sorted(tj["model"]["vocab"].items(), key=lambda kv: kv[1])
    tokens = [t for t, _ in vocab][:300]
    merges = [" ".join(m) if isinstance(m, list) else m for m in tj["model"]["merges"]]
    merges = [m for m in merges if all(p in tokens for p in m.split(" "))][:150]
    for i, pre in enumerate(["gpt-2", "smollm", "qwen2"]):
        w = gguf.GGUFWriter(os.path.join(d, f"tokenizer_{pre}.gguf"), "llama")
        w.add_block_count(1); w.add_context_length(16); w.add_embedding_length(8); w.add_feed_forward_length(16)
        w.add_head_count(2); w.add_head_count_kv(1); w.add_rope_freq_base(10000.0); w.add_layer_norm_rms_eps(1e-5)
        w.add_tokenizer_model("gpt2"); w.add_tokenizer_pre(pre)
        w.add_token_list(tokens); w.add_token_merges(merges)
        w.add_token_types([1] * (len(tokens) - 1) + [3])
        w.add_bos_token_id(len(tokens) - 1); w.add_eos_token_id(len(tokens) - 1); w.add_add_bos_token(i == 1)
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

    d = target("FuzzPuzzleDataset")
    copy(d, ["Tests/Fixtures/tiny/*/data.safetensors"])
    for name in ["sudoku6-test", "maze7-test", "sudoku9-test"]:
        src = os.path.join(ROOT, "Fixtures/data", name + ".safetensors")
        with open(src, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            meta = json.loads(f.read(n)).get("__metadata__", {})
        t = load_file(src)
        cut = {k: np.ascontiguousarray(v[:3]) for k, v in t.items()}
        meta = dict(meta)
        if "count" in meta:
            meta["count"] = "3"
        save_file(cut, os.path.join(d, name + "-3rows.safetensors"), metadata=meta)

    # IDX: three Fashion-MNIST images and labels of each part (tools/fetch_real.sh), separated by IDXLABELS as
    # Fuzz/FuzzIDX reads them, a labels file alone, and hostile cuts (truncated, trailing byte, zero count).
    d = target("FuzzIDX")
    for part in ["train", "t10k"]:
        with open(os.path.join(ROOT, f"data/fashion-mnist/{part}-images-idx3-ubyte"), "rb") as f:
            images = f.read(16 + 3 * 784)
        with open(os.path.join(ROOT, f"data/fashion-mnist/{part}-labels-idx1-ubyte"), "rb") as f:
            labels = f.read(8 + 3)
        images = images[:4] + struct.pack(">I", 3) + images[8:]
        labels = labels[:4] + struct.pack(">I", 3) + labels[8:]
        with open(os.path.join(d, f"{part}-3.idx"), "wb") as f:
            f.write(images + b"IDXLABELS" + labels)
        if part == "t10k":
            with open(os.path.join(d, "labels-only.idx"), "wb") as f:
                f.write(labels)
            with open(os.path.join(d, "truncated.idx"), "wb") as f:
                f.write(images[:-1] + b"IDXLABELS" + labels)
            with open(os.path.join(d, "trailing.idx"), "wb") as f:
                f.write(images + b"IDXLABELS" + labels + b"\0")
            with open(os.path.join(d, "zero-count.idx"), "wb") as f:
                f.write(images[:4] + struct.pack(">I", 0) + images[8:16] + b"IDXLABELS" + labels[:4] + struct.pack(">I", 0))

    for name in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, name))
        print(f"{name}: {len(files)} seeds, {sum(os.path.getsize(os.path.join(OUT, name, x)) for x in files)} bytes")


if __name__ == "__main__":
    main()
