"""PyTorch peer for the embedding task's speed (issue 13 §7): all-MiniLM-L6-v2 in transformers (FP32, CPU, 2
threads) encoding the first N units of the evaluation novels as sentence-transformers' `encode` does: sorted by
length, batches of 32 padded to their longest, mean pooling and normalisation. Prints sentences/s (wall) and
CPU ms per sentence, the two figures `shrink compare --sentences` reports per model.

Run: .venv-tools/bin/python tools/reference/bench_minilm.py [N]   (needs models/minilm, data/text)
"""
import os
import sys
import time

import torch
from tokenizers import Tokenizer
from transformers import BertModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from minilm_goldens import MODEL, TEXT, split_units  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
    torch.set_num_threads(2)
    units = split_units(open(TEXT, encoding="utf-8").read())[:n]
    tok = Tokenizer.from_file(MODEL + "/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(max_length=256)
    ids = [e.ids for e in tok.encode_batch(units)]
    model = BertModel.from_pretrained(MODEL, torch_dtype=torch.float32).eval()
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        for s in range(0, len(order), 32):
            batch = [ids[i] for i in order[s:s + 32]]
            T = max(len(x) for x in batch)
            input_ids = torch.zeros((len(batch), T), dtype=torch.long)
            mask = torch.zeros((len(batch), T), dtype=torch.long)
            for j, x in enumerate(batch):
                input_ids[j, :len(x)] = torch.tensor(x)
                mask[j, :len(x)] = 1
            h = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            torch.nn.functional.normalize((h * m).sum(1) / torch.clamp(m.sum(1), min=1e-9), p=2, dim=1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"PyTorch {torch.__version__} FP32, 2 threads: {len(ids)} sentences ({sum(map(len, ids))} tokens) in {wall:.1f} s: "
          f"{len(ids) / wall:.1f} sentences/s, {1000 * cpu / len(ids):.2f} CPU ms/sentence")


if __name__ == "__main__":
    main()
