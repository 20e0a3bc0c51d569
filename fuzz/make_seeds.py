#!/usr/bin/env python3
"""Regenerates the seed corpora under fuzz/corpus/ from tests/fixtures and datasets/ (run from anywhere).

Seeds are kept small on purpose (libFuzzer's -max_len defaults to the largest seed): safetensors seeds are
built from the fixtures' real headers with each tensor shrunk to a few elements, configs and tokenizer
files are copied as they are. The trace seeds (fuzz/corpus/trace_reader) are written by `moescope trace`
and committed; this script does not touch them.
"""
import json, os, shutil, struct, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fx = os.path.join(root, "tests", "fixtures")
out = os.path.join(root, "fuzz", "corpus")
SIZES = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I64": 8, "U8": 1, "I8": 1, "F64": 8, "BOOL": 1}


def st_bytes(header_obj, data):
    h = json.dumps(header_obj, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def shrink(path, limit=6):
    """The file's own header, first `limit` tensors, each reshaped to [2] (or [1,2]) elements."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
    new, off = {}, 0
    if "__metadata__" in hdr:
        new["__metadata__"] = hdr["__metadata__"]
    for name in [k for k in hdr if k != "__metadata__"][:limit]:
        t = hdr[name]
        shape = [1, 2] if len(t["shape"]) > 1 else [2]
        nb = 2 * SIZES.get(t["dtype"], 4)
        new[name] = {"dtype": t["dtype"], "shape": shape, "data_offsets": [off, off + nb]}
        off += nb
    return st_bytes(new, bytes(range(off)))


def write(sub, name, data):
    os.makedirs(os.path.join(out, sub), exist_ok=True)
    with open(os.path.join(out, sub, name), "wb") as f:
        f.write(data)


for fam in sorted(os.listdir(os.path.join(fx, "models"))):
    write("safetensors", fam, shrink(os.path.join(fx, "models", fam, "model", "model.safetensors")))
    with open(os.path.join(fx, "models", fam, "model", "config.json"), "rb") as f:
        write("model_config", fam, f.read())
write("safetensors", "demo_reference", shrink(os.path.join(fx, "demo", "reference.safetensors")))
write("safetensors", "empty_header", st_bytes({}, b""))
write("safetensors", "scalar_and_empty", st_bytes(
    {"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
     "e": {"dtype": "BF16", "shape": [0, 3], "data_offsets": [4, 4]}}, b"\0\0\x80\x3f"))
for cfg in sorted(os.listdir(os.path.join(fx, "configs"))):
    if cfg.endswith(".json"):
        shutil.copy(os.path.join(fx, "configs", cfg), os.path.join(out, "model_config", cfg))
for tk in sorted(os.listdir(os.path.join(fx, "tokenizers"))):
    p = os.path.join(fx, "tokenizers", tk, "tokenizer.json")
    if os.path.exists(p):
        shutil.copy(p, os.path.join(out, "tokenizer_json", tk))
# Index seeds: shapes of the one shard fuzz_weight_index writes ("a", "b"), plus the demo's real index.
shard = "model-00001-of-00001.safetensors"
write("weight_index", "two_tensors", json.dumps({"metadata": {"total_size": 12}, "weight_map": {"a": shard, "b": shard}}).encode())
write("weight_index", "one_tensor", json.dumps({"weight_map": {"a": shard}}).encode())
with open(os.path.join(root, "datasets", "moescope-demo-mixtral", "model.safetensors.index.json"), "rb") as f:
    write("weight_index", "demo_index", f.read())
# Encoder seeds: first byte picks the tokenizer (0..3).
texts = [b"Hello world", " caf\u00e9 \u65e5\u672c\u8a9e  \n\n  tabs\t".encode(), b"<|im_start|>user\nhi<|im_end|>",
         b"\xff\xfe invalid \xc3", "\U0001f642\U0001f642 123456 don't".encode()]
for t in range(4):
    for i, s in enumerate(texts):
        write("tokenizer_encode", f"t{t}_{i}", bytes([t]) + s)
print("seeds written under", out)
