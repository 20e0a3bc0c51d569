#!/usr/bin/env python3
"""Plain PyTorch (CPU, eager) peer of the MoEScope engine, for `bench/run_bench.sh`.

Loads the same safetensors checkpoint (Mixtral / OLMoE / Qwen3-MoE layouts: softmax top-k routing), runs a
prompt as one batch (prefill) and then greedy-decodes token by token with a KV cache, and prints JSON with
tokens/s for both phases and the generated ids (which cross-check the engine's greedy output).
Weights are widened to float32 at load: that is what a plain eager implementation does on a CPU.
"""
import argparse
import json
import math
import os
import re
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F



def read_safetensors(path):
    # Memory-mapped, one tensor at a time, so peak memory is the fp32 weights (not file + copies).
    out = {}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[a:b]
        if info["dtype"] == "BF16":  # numpy has no bfloat16: widen the bits by hand
            t = torch.from_numpy((raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32))
        elif info["dtype"] == "F16":
            t = torch.from_numpy(raw.view(np.float16).astype(np.float32))
        elif info["dtype"] == "F8_E4M3":  # fine-grained FP8: codes here, scaled by dequantize_fp8 below
            t = torch.from_numpy(np.array(raw)).view(torch.float8_e4m3fn).float()
        else:
            t = torch.from_numpy(np.array(raw.view(np.float32)))
        out[name] = t.reshape(info["shape"])
    return out


def blas_library():
    # PyPI's wheels name their BLAS in the build config (MKL); Debian's torch links the generic libblas.so.3
    # and the alternatives system picks the implementation.
    m = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    if m and m.group(1) != "generic":
        extra = ["oneDNN"] if torch.backends.mkldnn.is_available() else []
        if hasattr(torch.backends, "cpu"):
            extra.append(torch.backends.cpu.get_cpu_capability())
        return m.group(1).upper() + (" (" + ", ".join(extra) + ")" if extra else "")
    link = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu"
    real = os.path.realpath(link) if os.path.exists(link) else ""
    return "OpenBLAS" if "openblas" in real else (real or "unknown")


def dequantize_fp8(w, block):
    """FP8 checkpoints (quant_method fp8): weight = float32(code) * weight_scale_inv of its block, as transformers'
    CPU loader computes it; the last block of a dimension may be partial."""
    bn, bk = block
    for name in [n for n in w if n.endswith("_scale_inv")]:
        s = w.pop(name)
        q = w[name[: -len("_scale_inv")]]
        R, K = q.shape
        w[name[: -len("_scale_inv")]] = q * s.repeat_interleave(bn, 0)[:R].repeat_interleave(bk, 1)[:, :K]


def load_checkpoint(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    w = {}
    for f in files:
        w.update(read_safetensors(os.path.join(d, f)))
    q = json.load(open(os.path.join(d, "config.json"))).get("quantization_config") or {}
    if q.get("quant_method") == "fp8":
        dequantize_fp8(w, q["weight_block_size"])
    return w


class Peer:
    def __init__(self, d):
        self.cfg = json.load(open(os.path.join(d, "config.json")))
        c = self.cfg
        self.family = c["model_type"]
        if self.family not in ("mixtral", "olmoe", "qwen3_moe", "granitemoe", "granitemoeshared"):
            sys.exit(f"torch_peer: family {self.family} not implemented in the peer")
        self.w = load_checkpoint(d)
        self.H = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.nkv = c.get("num_key_value_heads", self.nh)
        self.hd = c.get("head_dim") or self.H // self.nh
        self.L = c["num_hidden_layers"]
        self.E = c.get("num_local_experts") or c.get("num_experts")
        self.k = c["num_experts_per_tok"]
        self.eps = c["rms_norm_eps"]
        theta = c.get("rope_theta") or c.get("rope_parameters", {}).get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2).float() / self.hd))
        self.norm_topk = True if self.family == "mixtral" else c.get("norm_topk_prob", False)
        self.moe = "block_sparse_moe" if self.family == "mixtral" else "mlp"
        self.names = ("w1", "w3", "w2") if self.family == "mixtral" else ("gate_proj", "up_proj", "down_proj")
        # Granite: four scalars, fused experts (input_linear [E, 2I, H], output_linear [E, H, I]), shared_mlp
        self.granite = self.family.startswith("granitemoe")
        self.emb_mult = c.get("embedding_multiplier", 1.0) if self.granite else 1.0
        self.res_mult = c.get("residual_multiplier", 1.0) if self.granite else 1.0
        self.attn_scale = c.get("attention_multiplier", 1.0) if self.granite else 1.0 / math.sqrt(self.hd)
        self.logits_scaling = c.get("logits_scaling", 1.0) if self.granite else 1.0
        if self.granite:
            self.moe, self.norm_topk = "block_sparse_moe", True

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos):
        f = torch.outer(pos.float(), self.inv_freq)
        emb = torch.cat([f, f], -1)
        cos, sin = emb.cos()[None], emb.sin()[None]
        x1, x2 = x[..., : self.hd // 2], x[..., self.hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, ids, cache, start):
        w, T = self.w, len(ids)
        x = w["model.embed_tokens.weight"][torch.tensor(ids)] * self.emb_mult
        pos = torch.arange(start, start + T)
        for l in range(self.L):
            p = f"model.layers.{l}."
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = h @ w[p + "self_attn.q_proj.weight"].T
            k = h @ w[p + "self_attn.k_proj.weight"].T
            v = h @ w[p + "self_attn.v_proj.weight"].T
            if self.family == "olmoe":
                q = self.rms(q, w[p + "self_attn.q_norm.weight"])
                k = self.rms(k, w[p + "self_attn.k_norm.weight"])
            q = q.view(T, self.nh, self.hd).transpose(0, 1)
            k = k.view(T, self.nkv, self.hd).transpose(0, 1)
            v = v.view(T, self.nkv, self.hd).transpose(0, 1)
            if self.family == "qwen3_moe":
                q = self.rms(q, w[p + "self_attn.q_norm.weight"])
                k = self.rms(k, w[p + "self_attn.k_norm.weight"])
            q, k = self.rope(q, pos), self.rope(k, pos)
            kc, vc = cache[l]
            kc[:, start:start + T] = k
            vc[:, start:start + T] = v
            K = kc[:, : start + T].repeat_interleave(self.nh // self.nkv, 0)
            V = vc[:, : start + T].repeat_interleave(self.nh // self.nkv, 0)
            s = (q @ K.transpose(1, 2)) * self.attn_scale
            mask = torch.full((T, start + T), float("-inf")).triu(start + 1)
            a = torch.softmax(s + mask, -1) @ V
            x = x + (a.transpose(0, 1).reshape(T, -1) @ w[p + "self_attn.o_proj.weight"].T) * self.res_mult
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            router = f"{self.moe}.router.layer.weight" if self.granite else f"{self.moe}.gate.weight"
            logits = h @ w[p + router].T
            probs = torch.softmax(logits, -1)
            top, sel = torch.topk(probs, self.k, -1)
            if self.norm_topk:
                top = top / top.sum(-1, keepdim=True)
            out = torch.zeros_like(h)
            g, u, dn = self.names
            for e in sel.unique().tolist():
                rows, slot = (sel == e).nonzero(as_tuple=True)
                if self.granite:
                    gu, down = w[p + "block_sparse_moe.input_linear.weight"][e], w[p + "block_sparse_moe.output_linear.weight"][e]
                    wg, wu = gu.chunk(2, 0)
                else:
                    pe = p + f"{self.moe}.experts.{e}."
                    wg, wu, down = w[pe + f"{g}.weight"], w[pe + f"{u}.weight"], w[pe + f"{dn}.weight"]
                y = F.silu(h[rows] @ wg.T) * (h[rows] @ wu.T)
                out.index_add_(0, rows, (y @ down.T) * top[rows, slot, None])
            if p + "shared_mlp.input_linear.weight" in w:
                sg, su = w[p + "shared_mlp.input_linear.weight"].chunk(2, 0)
                out = out + (F.silu(h @ sg.T) * (h @ su.T)) @ w[p + "shared_mlp.output_linear.weight"].T
            x = x + out * self.res_mult
        x = self.rms(x, w["model.norm.weight"])
        head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        return (x[-1] @ head.T) / self.logits_scaling

    def run(self, prompt, gen):
        ctx = len(prompt) + gen
        cache = [(torch.zeros(self.nkv, ctx, self.hd), torch.zeros(self.nkv, ctx, self.hd)) for _ in range(self.L)]
        with torch.no_grad():
            t0 = time.perf_counter()
            logits = self.forward(prompt, cache, 0)
            t1 = time.perf_counter()
            ids = [int(logits.argmax())]
            for i in range(gen - 1):
                logits = self.forward([ids[-1]], cache, len(prompt) + i)
                ids.append(int(logits.argmax()))
            t2 = time.perf_counter()
        return t1 - t0, t2 - t1, ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--prompt-ids", required=True, help="comma-separated ids")
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    prompt = [int(t) for t in a.prompt_ids.split(",")]
    t_load = time.perf_counter()
    peer = Peer(a.model)
    t_load = time.perf_counter() - t_load
    peer.run(prompt[:8], 4)  # warm-up
    pre, dec, ids = peer.run(prompt, a.gen)
    print(json.dumps({
        "peer": f"pytorch {torch.__version__} eager fp32, {a.threads} threads",
        "blas": blas_library(),
        "load_s": t_load, "prompt_len": len(prompt), "gen": a.gen,
        "prefill_tok_s": len(prompt) / pre, "decode_tok_s": (a.gen - 1) / dec if a.gen > 1 else 0.0,
        "decode_ms_per_token": 1000 * dec / max(1, a.gen - 1), "greedy_ids": ids,
    }))


if __name__ == "__main__":
    main()
