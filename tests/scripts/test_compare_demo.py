#!/usr/bin/python3
"""`moescope compare` on the demo checkpoint, checked with independent numpy code.

Runs the built binary (env MOESCOPE_BINARY), then recomputes every comparison metric from the
per-run datasets of CMP.h5 (/runs/<name>/logits, routing/experts, routing/dropped, tokens/ids) and
checks /comparison and the --json summary against them. Invariants: native vs native and native vs
topk:2 (Mixtral renormalises, so topk with the native k is the native rule) agree completely.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("MOESCOPE_BINARY", os.path.join(ROOT, "build", "app", "moescope"))
DATASETS = os.environ.get("MOESCOPE_DATASETS_DIR", os.path.join(ROOT, "datasets"))
DEMO = os.path.join(DATASETS, "moescope-demo-mixtral")
PROMPT = "def fibonacci(n):\n    if n < 2:\n        return n\n"


def run_compare(out, strategies, extra=(), prompt=PROMPT, check=True):
    cmd = [BINARY, "compare", DEMO]
    for s in strategies:
        cmd += ["--strategy", s]
    if prompt is not None:
        cmd += ["--prompt", prompt]
    cmd += ["--max-new-tokens", "12", "-o", out, "--json", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr}")
    return p


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def expert_sets(experts):
    # experts [N, M, K] -> list over N of list over M of frozenset of used experts
    return [[frozenset(int(e) for e in row if e >= 0) for row in tok] for tok in experts]


def top1(experts):
    n, m, _ = experts.shape
    out = np.full((n, m), -1)
    for t in range(n):
        for l in range(m):
            used = [e for e in experts[t, l] if e >= 0]
            out[t, l] = used[0] if used else -1
    return out


def js_nats(p, q):
    if p.sum() == 0 and q.sum() == 0:
        return 0.0
    if p.sum() == 0 or q.sum() == 0:
        return math.log(2.0)
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / m), 0.0)
        b = np.where(q > 0, q * np.log(q / m), 0.0)
    return float(0.5 * a.sum() + 0.5 * b.sum())


class Reference:
    """Metrics recomputed from the recorded runs, by the definitions in docs/strategies.md."""

    def __init__(self, f, a, b):
        ra, rb = f["runs"][a], f["runs"][b]
        self.ids_a, self.ids_b = ra["tokens/ids"][:], rb["tokens/ids"][:]
        n = min(len(self.ids_a), len(self.ids_b))
        self.n = n
        ea, eb = ra["routing/experts"][:n], rb["routing/experts"][:n]
        sa, sb = expert_sets(ea), expert_sets(eb)
        m = ea.shape[1]
        self.jaccard = np.array([[1.0 if not (sa[t][l] | sb[t][l]) else
                                  len(sa[t][l] & sb[t][l]) / len(sa[t][l] | sb[t][l]) for l in range(m)]
                                 for t in range(n)])
        self.top1_agree = (top1(ea) == top1(eb)).astype(np.uint8)
        E = ra["routing/logits"].shape[2]
        self.load_js = []
        for l in range(m):
            la = np.bincount(ea[:, l][ea[:, l] >= 0].ravel(), minlength=E).astype(float)
            lb = np.bincount(eb[:, l][eb[:, l] >= 0].ravel(), minlength=E).astype(float)
            self.load_js.append(js_nats(la, lb))
        lpa, lpb = log_softmax(ra["logits"][:n]), log_softmax(rb["logits"][:n])
        self.kl = (np.exp(lpa) * (lpa - lpb)).sum(axis=1)
        self.top1_token = (ra["logits"][:n].argmax(axis=1) == rb["logits"][:n].argmax(axis=1)).astype(np.uint8)
        diff = np.nonzero(self.ids_a[:n] != self.ids_b[:n])[0]
        self.first_divergence = int(diff[0]) if len(diff) else (n if len(self.ids_a) != len(self.ids_b) else -1)
        self.dropped_a = ra["routing/dropped"][:n].mean(axis=0)
        self.dropped_b = rb["routing/dropped"][:n].mean(axis=0)


def perplexity(run):
    ids = run["tokens/ids"][:]
    p = int(run["tokens/is_prompt"][:].sum())
    first = max(1, p) if len(ids) > p else 1
    lp = log_softmax(run["logits"][:])
    nll = [-lp[i - 1, ids[i]] for i in range(first, len(ids))]
    return math.exp(sum(nll) / len(nll))


class CompareDemo(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="moescope-cmp-")

    def out(self, name):
        return os.path.join(self.tmp, name)

    def check_against_reference(self, path, summary):
        with h5py.File(path, "r") as f:
            cmp = f["comparison"]
            names = [s.decode() if isinstance(s, bytes) else s for s in cmp["runs"][:]]
            for i, name in enumerate(names):
                self.assertAlmostEqual(cmp["perplexity"][i], perplexity(f["runs"][name]), places=6)
                self.assertAlmostEqual(summary["runs"][i]["perplexity"], perplexity(f["runs"][name]), places=6)
            pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
            self.assertEqual(len(summary["pairs"]), len(pairs))
            for (a, b), js in zip(pairs, summary["pairs"]):
                g = cmp["pairs"][f"{a}-vs-{b}"]
                ref = Reference(f, a, b)
                np.testing.assert_allclose(g["jaccard"][:], ref.jaccard, atol=1e-6)
                np.testing.assert_array_equal(g["top1_expert_agree"][:], ref.top1_agree)
                np.testing.assert_allclose(g["layer_jaccard"][:], ref.jaccard.mean(axis=0), atol=1e-9)
                np.testing.assert_allclose(g["layer_load_js"][:], ref.load_js, atol=1e-9)
                np.testing.assert_allclose(g["layer_dropped_a"][:], ref.dropped_a, atol=1e-12)
                np.testing.assert_allclose(g["layer_dropped_b"][:], ref.dropped_b, atol=1e-12)
                np.testing.assert_allclose(g["kl"][:], np.maximum(ref.kl, 0), atol=1e-7)
                np.testing.assert_array_equal(g["top1_token_agree"][:], ref.top1_token)
                self.assertEqual(g.attrs["first_divergence"], ref.first_divergence)
                self.assertEqual(js["first_divergence"], ref.first_divergence)
                self.assertAlmostEqual(js["jaccard"], ref.jaccard.mean(), places=9)
                self.assertAlmostEqual(js["top1_expert_agreement"], ref.top1_agree.mean(), places=9)
                self.assertAlmostEqual(js["kl_mean"], float(np.maximum(ref.kl, 0).mean()), places=7)
                self.assertAlmostEqual(js["top1_token_agreement"], ref.top1_token.mean(), places=9)
                self.assertAlmostEqual(js["load_js"], float(np.mean(ref.load_js)), places=9)

    def test_native_vs_native_is_identical(self):
        path = self.out("nn.h5")
        summary = json.loads(run_compare(path, ["native", "native"]).stdout)
        self.check_against_reference(path, summary)
        pair = summary["pairs"][0]
        self.assertEqual(pair["jaccard"], 1.0)
        self.assertEqual(pair["top1_expert_agreement"], 1.0)
        self.assertEqual(pair["top1_token_agreement"], 1.0)
        self.assertEqual(pair["kl_max"], 0.0)
        self.assertEqual(pair["first_divergence"], -1)
        self.assertEqual(summary["mode"], "free-running")

    def test_topk_with_native_k_equals_native(self):
        path = self.out("nk.h5")
        summary = json.loads(run_compare(path, ["native", "topk:2"]).stdout)
        self.check_against_reference(path, summary)
        with h5py.File(path, "r") as f:
            a, b = f["runs/0"], f["runs/1"]
            np.testing.assert_array_equal(a["tokens/ids"][:], b["tokens/ids"][:])
            np.testing.assert_array_equal(a["routing/experts"][:], b["routing/experts"][:])
            np.testing.assert_allclose(a["routing/weights"][:], b["routing/weights"][:], atol=1e-7)
            np.testing.assert_allclose(a["logits"][:], b["logits"][:], atol=1e-5)
            self.assertEqual(b.attrs["strategy"], "topk:2")
        pair = summary["pairs"][0]
        self.assertEqual(pair["jaccard"], 1.0)
        self.assertLess(pair["kl_max"], 1e-9)
        self.assertEqual(pair["first_divergence"], -1)

    def test_teacher_forced_scores_the_first_strategys_tokens(self):
        path = self.out("tf.h5")
        summary = json.loads(run_compare(path, ["native", "topk:1", "capacity:0.5"], ["--teacher-forced"]).stdout)
        self.assertEqual(summary["mode"], "teacher-forced")
        self.check_against_reference(path, summary)
        with h5py.File(path, "r") as f:
            ids = [f["runs"][r]["tokens/ids"][:] for r in ("0", "1", "2")]
            np.testing.assert_array_equal(ids[0], ids[1])
            np.testing.assert_array_equal(ids[0], ids[2])
            self.assertEqual(f["comparison"].attrs["mode"], "teacher-forced")
            # topk:1 really routes one expert per token
            e1 = f["runs/1/routing/experts"][:]
            self.assertTrue(((e1 >= 0).sum(axis=2) == 1).all())
            # capacity:0.5 over the prompt: C = ceil(0.5 * P * 2 / 16) per expert and layer
            run = f["runs/2"]
            p = int(run["tokens/is_prompt"][:].sum())
            e2 = run["routing/experts"][:p]
            C = math.ceil(0.5 * p * 2 / 16)
            for l in range(e2.shape[1]):
                counts = np.bincount(e2[:, l][e2[:, l] >= 0].ravel(), minlength=16)
                self.assertLessEqual(counts.max(), C)
            # a token is dropped at a layer exactly when capacity left it no expert
            used = (run["routing/experts"][:] >= 0).sum(axis=2)
            np.testing.assert_array_equal(run["routing/dropped"][:], (used == 0).astype(np.uint8))
            self.assertGreater(run["routing/dropped"][:].sum(), 0)  # CF 0.5 must drop something
        pair01 = summary["pairs"][0]
        self.assertEqual(pair01["first_divergence"], -1)  # same tokens by construction
        self.assertLess(pair01["jaccard"], 1.0)
        self.assertGreater(pair01["kl_mean"], 0.0)

    def test_free_running_diverges_and_reports_where(self):
        path = self.out("free.h5")
        summary = json.loads(run_compare(path, ["native", "topk:1", "random:3"]).stdout)
        self.check_against_reference(path, summary)

    def test_prompt_ids_and_prompts_file(self):
        path = self.out("multi.h5")
        prompts = os.path.join(self.tmp, "p.jsonl")
        with open(prompts, "w") as fh:
            fh.write(json.dumps({"text": "import numpy as np", "domain": "python"}) + "\n")
            fh.write(json.dumps({"ids": [5, 6, 7, 8]}) + "\n")
        p = run_compare(path, ["native", "topk:1"], ["--prompts", prompts], prompt=None)
        summary = json.loads(p.stdout)
        self.assertEqual(len(summary["prompts"]), 2)
        with h5py.File(path, "r") as f:
            self.assertIn("p1.s1", f["runs"])
            np.testing.assert_array_equal(f["runs/p1.s0/tokens/ids"][:4], [5, 6, 7, 8])
            self.assertIn("pairs", f["comparison/p1"])
            self.assertEqual(f["comparison"].attrs["num_prompts"], 2)

    def test_bad_input_is_a_one_line_error(self):
        p = run_compare(self.out("bad.h5"), ["native", "topk:99"], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("topk:99", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        p = run_compare(self.out("bad2.h5"), ["native"], check=False)
        self.assertEqual(p.returncode, 2)
        p = run_compare(self.out("bad3.h5"), ["native", "mask:0.99"], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("mask:0.99", p.stderr)


if __name__ == "__main__":
    if not os.path.exists(BINARY):
        print(f"moescope binary not found at {BINARY} (set MOESCOPE_BINARY)", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
