"""PyTorch peer for the language-modelling benchmark: transformers FP32 loading the same GGUF (dequantized), the same
text, llama-perplexity's protocol (chunks of CTX tokens, fresh state each, second half scored), one process.
Prints JSON: tokens/s over the forward passes and the perplexity.
Usage: bench_torch_perplexity.py GGUF TEXT [--ctx 512] [--chunks 40] [--threads 2]"""
import argparse
import json
import math
import os
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("text")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    folder, name = os.path.dirname(a.gguf), os.path.basename(a.gguf)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    ids = tok(open(a.text, encoding="utf-8").read(), add_special_tokens=False)["input_ids"]
    n_chunks = min(a.chunks, len(ids) // a.ctx)
    first = a.ctx // 2
    nll = nll2 = 0.0
    count = 0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for c in range(n_chunks):
            chunk = torch.tensor([ids[c * a.ctx:(c + 1) * a.ctx]])
            logits = model(chunk).logits[0, first:a.ctx - 1].double()
            lp = torch.log_softmax(logits, dim=-1)
            v = -lp.gather(1, chunk[0, first + 1:].unsqueeze(1)).squeeze(1)
            nll += v.sum().item(); nll2 += (v * v).sum().item(); count += v.numel()
    seconds = time.perf_counter() - t0
    mean = nll / count
    ppl = math.exp(mean)
    err = ppl * math.sqrt(max(0.0, nll2 / count - mean * mean) / (count - 1))
    print(json.dumps({"peer": f"PyTorch {torch.__version__} FP32 (transformers loading the GGUF)", "chunks": n_chunks,
                      "ctx": a.ctx, "threads": a.threads, "tokens_per_second": n_chunks * a.ctx / seconds,
                      "seconds": seconds, "perplexity": ppl, "error": err, "text_tokens": len(ids)}))


if __name__ == "__main__":
    main()
