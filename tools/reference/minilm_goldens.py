"""Parity goldens for the BERT encoder (issue 13 §4-5): all-MiniLM-L6-v2 as sentence-transformers runs it.

transformers' BertModel (PyTorch FP32, CPU) on 64 units of the evaluation novels, tokenized by Hugging Face
`tokenizers` from the model's own tokenizer.json and truncated at sentence_bert_config.json's max_seq_length,
batched with padding and the attention mask; then sentence-transformers' Pooling(mean_tokens) and Normalize,
re-implemented exactly (sentence_transformers/models/Pooling.py, Normalize.py: F.normalize(p=2, dim=1)).

The units come from the same sentence splitter the Swift embedding task documents
(Sources/ShrinkEval/Tasks/Embeddings/SentenceSplitter.swift), ported below: the test checks the Swift
splitter finds these texts at these indices, and the same unit count.

Writes Tests/Fixtures/minilm/goldens.safetensors (≈ 0.9 MB) and sentences.json:
  input_ids [tokens] int32, packed; offsets [65] int32 (sentence i is input_ids[offsets[i]:offsets[i+1]])
  embeddings [64, 384]      pooled and normalised
  pooler_output [8, 384]    BertModel's pooler_output of the first 8 sentences
  layer_means [7, 64, 384]  every hidden state (embedding output + 6 layers), mean over each sentence's tokens
  hidden_states_short [7, T, 384]  the full hidden states of sentence `short_index` (T tokens)

Run: .venv-tools/bin/python tools/reference/minilm_goldens.py   (needs models/minilm, data/text: tools/fetch_real.sh)
"""
import json
import os
import re
import sys

import numpy as np
import torch
from safetensors.numpy import save_file
from tokenizers import Tokenizer
from transformers import BertModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models/minilm")
TEXT = os.path.join(ROOT, "data/text/evaluation.txt")
OUT = os.path.join(ROOT, "Tests/Fixtures/minilm")
COUNT = 64

# The splitter (see SentenceSplitter.swift for the rule in words).
ABBREVIATIONS = {"Mr", "Mrs", "Dr", "St", "Messrs", "Esq", "Capt", "Col", "Rev", "Mme", "Ms"}
CLOSERS = "\"')]_"
OPENERS = "\"'(_["


def split_units(text):
    units = []
    for paragraph in re.split(r"\n[ \t\r]*\n", text.replace("\r\n", "\n")):
        p = " ".join(paragraph.split())
        p = re.sub(r"([.!?;:][" + re.escape(CLOSERS) + r"]*)--", r"\1 ", p)
        current = []
        for word in p.split(" "):
            if not word:
                continue
            current.append(word)
            core = word.rstrip(CLOSERS)
            if core.endswith((".", "!", "?", ";", ":")):
                if core.endswith(".") and core.rstrip(".!?;:").lstrip(OPENERS) in ABBREVIATIONS:
                    continue
                units.append(" ".join(current))
                current = []
        if current:
            units.append(" ".join(current))
    return [u for u in units if re.search("[A-Za-z]", u) and not re.fullmatch(r"(?i)chapter\s+\w+\.?", u)]


def main():
    for path in (MODEL + "/model.safetensors", TEXT):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run tools/fetch_real.sh")
    torch.manual_seed(0)
    torch.set_num_threads(2)
    units = split_units(open(TEXT, encoding="utf-8").read())
    step = len(units) // COUNT
    indices = [i * step for i in range(COUNT)]
    longest = max(range(len(units)), key=lambda i: len(units[i]))
    indices[-1] = longest  # the longest unit, to cover long sequences
    texts = [units[i] for i in indices]

    max_len = json.load(open(MODEL + "/sentence_bert_config.json"))["max_seq_length"]
    tok = Tokenizer.from_file(MODEL + "/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)
    ids = [tok.encode(t).ids for t in texts]
    T = max(len(x) for x in ids)
    input_ids = torch.zeros((COUNT, T), dtype=torch.long)
    mask = torch.zeros((COUNT, T), dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1

    model = BertModel.from_pretrained(MODEL, torch_dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=mask, token_type_ids=torch.zeros_like(input_ids),
                    output_hidden_states=True)
    m = mask.unsqueeze(-1).float()
    # Pooling.py (mean_tokens): sum(token_embeddings * mask) / clamp(mask.sum, min=1e-9); Normalize.py.
    pooled = (out.last_hidden_state * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    embeddings = torch.nn.functional.normalize(pooled, p=2, dim=1)
    layer_means = torch.stack([(h * m).sum(1) / m.sum(1) for h in out.hidden_states])
    lengths = [len(x) for x in ids]
    short = min(range(COUNT), key=lambda i: (abs(lengths[i] - 12), i))
    hidden_short = torch.stack([h[short, : lengths[short]] for h in out.hidden_states])

    offsets = np.cumsum([0] + lengths).astype(np.int32)
    os.makedirs(OUT, exist_ok=True)
    save_file({
        "input_ids": np.concatenate([np.array(x, dtype=np.int32) for x in ids]),
        "offsets": offsets,
        "embeddings": embeddings.numpy().astype(np.float32),
        "pooler_output": out.pooler_output[:8].numpy().astype(np.float32),
        "layer_means": layer_means.numpy().astype(np.float32),
        "hidden_states_short": hidden_short.numpy().astype(np.float32),
    }, OUT + "/goldens.safetensors", metadata={"short_index": str(short), "max_seq_length": str(max_len),
                                               "units": str(len(units)), "torch": torch.__version__})
    with open(OUT + "/sentences.json", "w", encoding="utf-8") as f:
        json.dump({"source": "data/text/evaluation.txt", "units": len(units), "indices": indices, "texts": texts}, f, indent=1)
        f.write("\n")
    print(f"{len(units)} units; {COUNT} sentences, {offsets[-1]} tokens (longest {T}); short sentence {short} "
          f"({lengths[short]} tokens); wrote {OUT}")


if __name__ == "__main__":
    main()
