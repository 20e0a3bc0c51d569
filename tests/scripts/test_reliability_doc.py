#!/usr/bin/env python3
"""Keeps docs/reliability.md true: re-runs every case of its `reliability-cases` block.

For each case: build the bad input (a recipe below, from the fixtures, in a temp dir), run `moescope` with the
case's argv, and check (1) the exit status, (2) stderr is one line `moescope <cmd>: error: ...` (or
`moescope: error: ...`) that contains the case's text, and (3) the same text is in the document's table row
with that id, so the table a user reads is what the program prints.

Environment (set by CTest): MOESCOPE_BINARY, MOESCOPE_DATASETS_DIR, MOESCOPE_FIXTURES_DIR.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("MOESCOPE_BINARY", os.path.join(ROOT, "build/release/app/moescope"))
DATASETS = os.environ.get("MOESCOPE_DATASETS_DIR", os.path.join(ROOT, "datasets"))
FIXTURES = os.environ.get("MOESCOPE_FIXTURES_DIR", os.path.join(ROOT, "tests/fixtures"))
DOC = os.path.join(ROOT, "docs", "reliability.md")
DEMO = os.path.join(DATASETS, "moescope-demo-mixtral")
MIXTRAL = os.path.join(FIXTURES, "models", "mixtral", "model")


def sanitized_build():
    """True when the binary is built with AddressSanitizer (HDF5 then crashes where it would loop)."""
    try:
        out = subprocess.run(["nm", "-D", BIN], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "__asan_init" in out or "__asan_report" in out


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def read_json(path):
    with open(path) as f:
        return json.load(f)


# ---- recipes: each returns the path of the bad input, made under `tmp` -----------------------------

def copy_model(tmp, name):
    d = os.path.join(tmp, name)
    shutil.copytree(MIXTRAL, d)
    return d


def st_rewrite_header(path, edit):
    data = read_bytes(path)
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    edit(header)
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    write_bytes(path, struct.pack("<Q", len(hb)) + hb + data[8 + n:])


def edit_config(d, edit):
    p = os.path.join(d, "config.json")
    j = read_json(p)
    edit(j)
    write_text(p, json.dumps(j))
    return d


def r_none(tmp):
    return ""


def r_empty_dir(tmp):
    d = os.path.join(tmp, "empty")
    os.mkdir(d)
    return d


def r_truncated_data(tmp):
    d = copy_model(tmp, "trunc")
    p = os.path.join(d, "model.safetensors")
    os.truncate(p, os.path.getsize(p) // 2)
    return d


def r_header_cut(tmp):
    d = copy_model(tmp, "hdr")
    p = os.path.join(d, "model.safetensors")
    data = read_bytes(p)
    write_bytes(p, data[:18])
    return d


def r_header_huge(tmp):
    d = copy_model(tmp, "huge")
    p = os.path.join(d, "model.safetensors")
    data = bytearray(read_bytes(p))
    data[:8] = struct.pack("<Q", 1 << 60)
    write_bytes(p, data)
    return d


def r_header_json(tmp):
    d = copy_model(tmp, "badjson")
    p = os.path.join(d, "model.safetensors")
    data = bytearray(read_bytes(p))
    data[8] = ord("[")
    write_bytes(p, data)
    return d


def r_offsets_beyond(tmp):
    d = copy_model(tmp, "offsets")

    def edit(h):
        o = h["lm_head.weight"]["data_offsets"]
        h["lm_head.weight"]["data_offsets"] = [0, o[1] - o[0] + 4096 * 1024]
    st_rewrite_header(os.path.join(d, "model.safetensors"), edit)
    return d


def r_fp8_dtype(tmp):
    d = copy_model(tmp, "fp8")
    st_rewrite_header(os.path.join(d, "model.safetensors"), lambda h: h["lm_head.weight"].update(dtype="F8_E5M2"))
    return d


def r_fp8_no_scale(tmp):
    d = os.path.join(tmp, "fp8-no-scale")
    shutil.copytree(os.path.join(FIXTURES, "models", "qwen3_moe_fp8", "model"), d)
    st_rewrite_header(os.path.join(d, "model.safetensors"),
                      lambda h: h.pop("model.layers.0.self_attn.q_proj.weight_scale_inv"))
    return d


def r_missing_tensor(tmp):
    d = copy_model(tmp, "missing")
    st_rewrite_header(os.path.join(d, "model.safetensors"), lambda h: h.pop("lm_head.weight"))
    return d


def r_hidden_doubled(tmp):
    return edit_config(copy_model(tmp, "hidden"), lambda j: j.update(hidden_size=2 * j["hidden_size"]))


def r_config_json(tmp):
    d = copy_model(tmp, "cfg")
    write_text(os.path.join(d, "config.json"), '{"model_type": "mixtral", \n')
    return d


def r_arch_llama(tmp):
    return edit_config(copy_model(tmp, "arch"), lambda j: j.update(model_type="llama", architectures=["LlamaForCausalLM"]))


def r_k_too_big(tmp):
    return edit_config(copy_model(tmp, "k"), lambda j: j.update(num_experts_per_tok=j["num_local_experts"] + 1))


def r_negative_layers(tmp):
    return edit_config(copy_model(tmp, "neg"), lambda j: j.update(num_hidden_layers=-3))


def r_heads_3(tmp):
    def edit(j):
        j["num_attention_heads"] = 3
        j.pop("head_dim", None)
    return edit_config(copy_model(tmp, "heads"), edit)


def demo_tokenizer():
    return read_json(os.path.join(DEMO, "tokenizer.json"))


def write_json(tmp, name, obj):
    p = os.path.join(tmp, name)
    write_text(p, json.dumps(obj))
    return p


def r_tok_bad_json(tmp):
    p = os.path.join(tmp, "bad.json")
    write_text(p, '{"model": {"type": "BPE", "vocab": {\n')
    return p


def r_tok_wordpiece(tmp):
    j = demo_tokenizer()
    j["model"]["type"] = "WordPiece"
    return write_json(tmp, "wp.json", j)


def r_tok_novocab(tmp):
    j = demo_tokenizer()
    del j["model"]["vocab"]
    return write_json(tmp, "novocab.json", j)


def r_tok_merge(tmp):
    j = demo_tokenizer()
    m = j["model"]["merges"]
    m[0] = "zzzq qqqz" if isinstance(m[0], str) else ["zzzq", "qqqz"]
    return write_json(tmp, "merge.json", j)


def r_demo(tmp):
    return DEMO


def r_bad_jsonl(tmp):
    p = os.path.join(tmp, "bad.jsonl")
    write_text(p, '{"prompt": "ok"}\n{"prompt": \n')
    return p


def r_not_hdf5(tmp):
    p = os.path.join(tmp, "not.h5")
    write_text(p, "hello\n")
    return p


def r_foreign_hdf5(tmp):
    import h5py
    p = os.path.join(tmp, "foreign.h5")
    with h5py.File(p, "w") as f:
        f["x"] = [1, 2]
    return p


def r_truncated_trace(tmp):
    good = os.path.join(tmp, "good.h5")
    subprocess.run([BIN, "trace", DEMO, "--prompt", "Hello there", "--max-new-tokens", "8", "-o", good],
                   check=True, capture_output=True, timeout=300)
    p = os.path.join(tmp, "trunc.h5")
    data = read_bytes(good)
    write_bytes(p, data[:len(data) // 3])
    return p


def r_corrupt_crash(tmp):
    return os.path.join(FIXTURES, "corrupt", "hdf5-crash-attr-iterate.h5")


def r_corrupt_hang(tmp):
    return os.path.join(FIXTURES, "corrupt", "hdf5-hang-min.h5")


RECIPES = {name[2:]: fn for name, fn in globals().items() if name.startswith("r_")}


def load_doc():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"```reliability-cases\n(.*?)```", text, re.S)
    if not m:
        raise AssertionError(f"{DOC}: no reliability-cases block")
    cases = [json.loads(line) for line in m.group(1).splitlines() if line.strip()]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if line.startswith("|") and len(cells) > 2 and re.fullmatch(r"[a-z]+-[a-z0-9-]+", cells[1]):
            rows[cells[1]] = line
    return cases, rows


class ReliabilityDoc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cases, cls.rows = load_doc()
        cls.sanitized = sanitized_build()

    def test_every_row_with_an_id_has_a_case(self):
        ids = [c["id"] for c in self.cases]
        self.assertEqual(len(ids), len(set(ids)), "duplicate case ids")
        self.assertEqual(sorted(self.rows), sorted(ids), "table rows with an id and cases differ")
        self.assertGreaterEqual(len(ids), 30)

    def test_cases(self):
        for case in self.cases:
            with self.subTest(case=case["id"]):
                self.run_case(case)

    def run_case(self, case):
        self.assertIn(case["recipe"], RECIPES, f"{case['id']}: unknown recipe")
        expect = case["expect"]
        self.assertIn(expect, self.rows.get(case["id"], ""), f"{case['id']}: the table row does not show {expect!r}")
        with tempfile.TemporaryDirectory(prefix="moescope-reldoc-") as tmp:
            path = RECIPES[case["recipe"]](tmp)
            subst = {"{input}": path, "{demo}": DEMO, "{tmp}": tmp, "{long_prompt}": "x " * 2000}
            argv = []
            for a in case["argv"]:
                for k, v in subst.items():
                    a = a.replace(k, v)
                argv.append(a)
            p = subprocess.run([BIN] + argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        if self.sanitized and "sanitized" in case:
            expect = case["sanitized"]  # HDF5 crashes under AddressSanitizer where it would loop
        self.assertEqual(p.returncode, case["rc"], f"{case['id']}: exit {p.returncode}, stderr: {p.stderr!r}")
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertTrue(lines, f"{case['id']}: nothing on stderr")
        self.assertRegex(lines[0], r"^moescope( [a-z]+)?: error: ", f"{case['id']}: {lines[0]!r}")
        errors = [l for l in lines if ": error:" in l]
        self.assertEqual(len(errors), 1, f"{case['id']}: {p.stderr!r}")
        self.assertIn(expect, lines[0], f"{case['id']}: {lines[0]!r}")


if __name__ == "__main__":
    if not os.path.exists(BIN):
        print(f"test_reliability_doc: {BIN} not found", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
