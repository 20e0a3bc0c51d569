#!/usr/bin/python3
"""Reads `moescope trace` output with h5py + numpy only (no MoEScope code): the core schema of
docs/trace-format.md (types, shapes, str attributes), the routing against the Hugging Face reference of
the demo checkpoint, a run killed with SIGKILL (the file must open with a consistent prefix), and the
CSV export against the HDF5 arrays.

Environment (set by CTest): MOESCOPE_BINARY, MOESCOPE_DATASETS_DIR, MOESCOPE_FIXTURES_DIR.
Needs python3-h5py and python3-numpy (apt-get install -y python3-h5py python3-numpy).
"""
import csv
import datetime
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

BIN = os.environ.get("MOESCOPE_BINARY", "moescope")
DATASETS = os.environ.get("MOESCOPE_DATASETS_DIR", os.path.join(os.path.dirname(__file__), "../../datasets"))
FIXTURES = os.environ.get("MOESCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "../fixtures"))
DEMO = os.path.join(DATASETS, "moescope-demo-mixtral")


def read_safetensors(path):
    """A minimal safetensors reader (F32 / I64 only), independent of the engine's."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I64": np.int64}[e["dtype"]]
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dtype).reshape(e["shape"])
    return out


def run(*args, check=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"moescope {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


class TraceWithH5py(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="moescope-py-trace-")
        cls.ref = read_safetensors(os.path.join(FIXTURES, "demo", "reference.safetensors"))
        cls.ids = cls.ref["prose.input_ids"]
        cls.greedy = cls.ref["prose.greedy.ids"]
        cls.path = os.path.join(cls.tmp, "prose.h5")
        run("trace", DEMO, "--prompt-ids", ",".join(str(int(i)) for i in cls.ids), "--max-new-tokens",
            str(len(cls.greedy)), "--greedy", "--ignore-eos", "--record", "logits", "-o", cls.path)

    def test_core_schema(self):
        with h5py.File(self.path, "r") as f:
            self.assertIsInstance(f.attrs["format"], str)
            self.assertEqual(f.attrs["format"], "moescope-trace")
            self.assertEqual(int(f.attrs["version"]), 1)
            created = f.attrs["created"]
            self.assertIsInstance(created, str)
            datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
            self.assertIsInstance(f.attrs["engine_version"], str)
            self.assertEqual(list(f["runs"].keys()), ["0"])
            r = f["runs/0"]
            for key in ("model", "family", "model_config", "strategy", "backend", "tokenizer", "prompt"):
                self.assertIsInstance(r.attrs[key], str, key)
            self.assertEqual(r.attrs["family"], "mixtral")
            self.assertEqual(r.attrs["strategy"], "native")
            self.assertEqual(json.loads(r.attrs["model_config"])["num_local_experts"], 16)
            N = len(self.ids) + len(self.greedy)
            M, E, K, V = 6, 16, 2, 4096
            expect = {
                "tokens/ids": (np.int64, (N,)),
                "tokens/is_prompt": (np.uint8, (N,)),
                "routing/layers": (np.int32, (M,)),
                "routing/logits": (np.float32, (N, M, E)),
                "routing/experts": (np.int32, (N, M, K)),
                "routing/weights": (np.float32, (N, M, K)),
                "routing/dropped": (np.uint8, (N, M)),
                "logits": (np.float32, (N, V)),
                "timing/step_ns": (np.int64, (len(self.greedy) + 1,)),
            }
            for name, (dtype, shape) in expect.items():
                self.assertEqual(r[name].dtype, np.dtype(dtype), name)
                self.assertEqual(r[name].shape, shape, name)
            text = r["tokens/text"]
            self.assertEqual(h5py.check_string_dtype(text.dtype).encoding, "utf-8")
            self.assertEqual(text.shape, (N,))
            pieces = text.asstr()[:]
            self.assertTrue(all(isinstance(s, str) for s in pieces))
            self.assertGreater(sum(len(s) for s in pieces), 0)
            # the datasets are chunked along N and extendable (what makes a killed run readable)
            self.assertIsNotNone(r["routing/experts"].chunks)
            self.assertIsNone(r["routing/experts"].maxshape[0])

    def test_routing_matches_transformers(self):
        with h5py.File(self.path, "r") as f:
            r = f["runs/0"]
            P = len(self.ids)
            ids = r["tokens/ids"][:]
            np.testing.assert_array_equal(ids[:P], self.ids)
            np.testing.assert_array_equal(ids[P:], self.greedy)
            np.testing.assert_array_equal(r["tokens/is_prompt"][:], np.r_[np.ones(P), np.zeros(len(self.greedy))])
            np.testing.assert_array_equal(r["routing/layers"][:], np.arange(6))
            logits = r["routing/logits"][:]
            experts = r["routing/experts"][:]
            weights = r["routing/weights"][:]
            for l in range(6):
                ref_logits = self.ref[f"prose.router.{l}.logits"]
                np.testing.assert_allclose(logits[:P, l], ref_logits, atol=1e-3)
                ref_sets = np.sort(self.ref[f"prose.router.{l}.experts"], axis=1)
                np.testing.assert_array_equal(np.sort(experts[:P, l], axis=1), ref_sets)
            # every row (prompt and generated): the two largest logits, weights = softmax over them
            top2 = np.argsort(-logits, axis=2, kind="stable")[:, :, :2]
            np.testing.assert_array_equal(np.sort(experts, axis=2), np.sort(top2, axis=2))
            sel = np.take_along_axis(logits, experts.astype(np.int64), axis=2)
            w = np.exp(sel - sel.max(axis=2, keepdims=True))
            np.testing.assert_allclose(weights, w / w.sum(axis=2, keepdims=True), atol=1e-5)
            self.assertEqual(int(r["routing/dropped"][:].sum()), 0)
            next_logits = r["logits"][:]
            np.testing.assert_allclose(next_logits[:P], self.ref["prose.logits"], atol=1e-3)
            # greedy: the argmax of each row is the next token
            np.testing.assert_array_equal(next_logits[P - 1:-1].argmax(axis=1), ids[P:])

    def test_export_csv(self):
        out = os.path.join(self.tmp, "csv")
        run("export", self.path, "--csv", out)
        with h5py.File(self.path, "r") as f:
            r = f["runs/0"]
            experts = r["routing/experts"][:]
            weights = r["routing/weights"][:]
            layers = r["routing/layers"][:]
            with open(os.path.join(out, "routing.csv"), newline="") as fh:
                rows = list(csv.DictReader(fh))
            self.assertEqual(len(rows), experts.size)  # no padding in a native Mixtral run
            for row in rows:
                p, l, k = int(row["position"]), int(row["moe_layer"]), int(row["rank"])
                self.assertEqual(row["run"], "0")
                self.assertEqual(int(row["layer"]), layers[l])
                self.assertEqual(int(row["expert"]), experts[p, l, k])
                self.assertEqual(np.float32(float(row["weight"])), weights[p, l, k])
            with open(os.path.join(out, "tokens.csv"), newline="") as fh:
                tokens = list(csv.DictReader(fh))
            self.assertEqual([int(t["token_id"]) for t in tokens], list(r["tokens/ids"][:]))
            self.assertEqual([t["text"] for t in tokens], list(r["tokens/text"].asstr()[:]))
            with open(os.path.join(out, "steps.csv"), newline="") as fh:
                steps = list(csv.DictReader(fh))
            self.assertEqual([int(s["wall_ns"]) for s in steps], list(r["timing/step_ns"][:]))

    def test_sigkill_leaves_readable_file(self):
        prompts = os.path.join(self.tmp, "many.jsonl")
        with open(prompts, "w") as fh:
            for i in range(40):
                fh.write(json.dumps({"ids": [300, 301, 10 + i], "domain": "prose"}) + "\n")
        path = os.path.join(self.tmp, "killed.h5")
        p = subprocess.Popen([BIN, "trace", DEMO, "--prompts", prompts, "--max-new-tokens", "900", "--ignore-eos",
                              "--threads", "1", "-o", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(path) and os.path.getsize(path) > 400 * 1024:
                break
            if p.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        if p.poll() is not None:  # (reading stderr earlier would block until the process exits)
            self.fail("the trace ended before it could be killed: " + p.stderr.read().decode())
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stderr.close()
        self.assertEqual(p.returncode, -signal.SIGKILL)
        with h5py.File(path, "r") as f:
            self.assertEqual(f.attrs["format"], "moescope-trace")
            runs = sorted(f["runs"].keys(), key=int)
            self.assertGreaterEqual(len(runs), 1)
            self.assertEqual(int(f["runs"][runs[-1]].attrs["complete"]), 0)
            total = 0
            for name in runs:
                r = f["runs"][name]
                n = min(r[d].shape[0] for d in ("tokens/ids", "tokens/text", "tokens/is_prompt", "routing/logits",
                                                 "routing/experts", "routing/weights", "routing/dropped"))
                logits = r["routing/logits"][:n]
                experts = r["routing/experts"][:n]
                self.assertTrue(np.all((experts >= 0) & (experts < 16)))
                top2 = np.sort(np.argsort(-logits, axis=2, kind="stable")[:, :, :2], axis=2)
                np.testing.assert_array_equal(np.sort(experts, axis=2), top2)
                self.assertEqual(int(r["timing/step_tokens"][:].sum()), n)
                r["tokens/text"].asstr()[:n]
                total += n
            self.assertGreater(total, 50)


if __name__ == "__main__":
    unittest.main(verbosity=2)
