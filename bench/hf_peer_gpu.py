#!/usr/bin/env python3
"""Hugging Face transformers `generate()` peer of `moescope bench --backend cuda`, for a GPU machine.

Loads the same checkpoint directory with AutoModelForCausalLM on one CUDA device, runs the same prompt
ids greedily, and prints JSON in the shape `moescope bench --json` uses for its phases: prefill tok/s
(time to the first generated token), decode tok/s (the remaining tokens), and the greedy ids, which
cross-check the engine's greedy output. Not run in CI (no GPU there); see docs/cuda.md.

    python3 bench/hf_peer_gpu.py MODEL_DIR --prompt-len 128 --gen 64 [--dtype float32|bfloat16] [--rounds 3]
    moescope bench MODEL_DIR --backend cuda --prompt-len 128 --gen 64 --json

The engine computes in fp32 with weights in their stored dtype; `--dtype float32` is the like-for-like
numerical peer, `--dtype bfloat16` the fast one people actually deploy. Both are worth reporting.
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--prompt-ids", help="comma-separated ids (default: --prompt-len ids cycling through 1..999)")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--attn", default="eager", help="attn_implementation (eager, sdpa)")
    a = ap.parse_args()

    try:
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        sys.exit(f"hf_peer_gpu: {e} (pip install torch transformers)")
    if not torch.cuda.is_available():
        sys.exit("hf_peer_gpu: no CUDA device")

    dtype = getattr(torch, a.dtype)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=dtype, attn_implementation=a.attn)
    model = model.to("cuda").eval()
    load_s = time.perf_counter() - t0
    if a.prompt_ids:
        ids = [int(x) for x in a.prompt_ids.split(",") if x]
    else:
        ids = [1 + i % 999 for i in range(a.prompt_len)]
    inp = torch.tensor([ids], device="cuda")
    attn = torch.ones_like(inp)

    def timed(n):
        torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(inp, attention_mask=attn, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                 num_beams=1, use_cache=True, pad_token_id=0)
        torch.cuda.synchronize()
        return time.perf_counter() - t, out[0, len(ids):].tolist()

    timed(2)  # warm-up: kernels, allocator, cuBLAS handles
    runs = []
    for _ in range(a.rounds):
        first_s, _ = timed(1)
        total_s, gen_ids = timed(a.gen)
        runs.append({"prefill_s": first_s, "decode_s": max(total_s - first_s, 1e-9), "ids": gen_ids})
    best_pre = min(r["prefill_s"] for r in runs)
    best_dec = min(r["decode_s"] for r in runs)
    print(json.dumps({
        "peer": f"transformers {__import__('transformers').__version__} generate(), torch {torch.__version__}, "
                f"{a.dtype}, attn={a.attn}",
        "device": torch.cuda.get_device_name(0),
        "load_s": load_s,
        "prompt_len": len(ids),
        "gen": a.gen,
        "prefill_tok_s": len(ids) / best_pre,
        "decode_tok_s": (a.gen - 1) / best_dec if a.gen > 1 else 0.0,
        "decode_ms_per_token": 1000.0 * best_dec / max(1, a.gen - 1),
        "greedy_ids": runs[0]["ids"],
        "rounds": [{"prefill_s": r["prefill_s"], "decode_s": r["decode_s"]} for r in runs],
        "max_memory_bytes": torch.cuda.max_memory_allocated(),
    }, indent=2))


if __name__ == "__main__":
    main()
