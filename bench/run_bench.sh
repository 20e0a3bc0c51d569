#!/usr/bin/env bash
# One command, nothing built: our engine against the plain PyTorch eager peer (bench/torch_peer.py) on the
# same checkpoints and prompts, on the same number of threads, side by side (ours, peer, ours, peer), so
# load from other processes on the machine hits both alike. Prints one JSON object: both sides' figures,
# the ratios (decode, prefill; best of the rounds for each side), the greedy-id cross-check, and the load.
#
#   bench/run_bench.sh [BUILD_DIR]   (default build/release; needs BUILD_DIR/app/moescope)
#   env: THREADS=2 PROMPT_LEN=128 GEN=128 ROUNDS=2 SYNTH_LAYERS=2 KEEP=1 (keep temp dir)
#        SYNTH=olmoe-1b-7b  the synthetic model (a `bench --synthetic` name or config.json; reported as "olmoe"
#                           when it is the default, else as "synthetic"); SYNTH_LAYERS=0 keeps the planner's choice
#        PYTHON=...  the peer's interpreter (default: bench/.venv-peer/bin/python, see below)
#
# The peer's torch comes from PyPI, in a virtual environment this script makes on first use
# (bench/.venv-peer, git-ignored): `pip install torch numpy`. PyPI's Linux wheel is the CUDA build (about
# 5 GB with its nvidia-* dependencies; only the CPU side runs here: MKL BLAS, oneDNN, AVX-512 kernels).
# PYTHON=/usr/bin/python3 uses Debian's python3-torch instead (1.13, OpenBLAS), as the first figures did.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${1:-$root/build/release}"
bin="$build/app/moescope"
[ -x "$bin" ] || { echo "run_bench.sh: $bin not found (build the moescope target first, or pass the build dir)" >&2; exit 2; }
venv="$here/.venv-peer"
py="${PYTHON:-$venv/bin/python}"
if [ -z "${PYTHON:-}" ] && ! "$py" -c "import torch, numpy" 2>/dev/null; then
  echo "run_bench.sh: installing the peer's torch from PyPI into $venv (once; ~5 GB)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check torch numpy >&2
fi
"$py" -c "import torch, numpy" 2>/dev/null || { echo "run_bench.sh: $py cannot import torch/numpy" >&2; exit 2; }
threads="${THREADS:-2}"; plen="${PROMPT_LEN:-128}"; gen="${GEN:-128}"; rounds="${ROUNDS:-2}"; layers="${SYNTH_LAYERS:-2}"
tmp="$(mktemp -d /tmp/moescope-run-bench-XXXXXX)"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
# The peer's OpenMP threads spin-wait by default (ACTIVE): on a quiet machine that is its fastest setting
# (demo prefill 7.9k vs 1.8k tok/s with PASSIVE), on a machine shared with other work it can be 10x slower
# than PASSIVE. So every round runs the peer both ways and the peer is credited with its best.
peer_policies="${PEER_OMP_WAIT_POLICIES:-ACTIVE PASSIVE}"

demo="$root/datasets/moescope-demo-mixtral"
synth_model="${SYNTH:-olmoe-1b-7b}"
synth_case=olmoe
[ "$synth_model" = olmoe-1b-7b ] || synth_case=synthetic
synth="$tmp/synthetic-model"
layer_args=()
[ "$layers" = 0 ] || layer_args=(--layers "$layers")
"$bin" bench --synthetic "$synth_model" "${layer_args[@]}" --synthetic-dir "$synth" --write-only > "$tmp/synth-plan.json"

run_peer() {  # dir ids out-prefix: one run per OpenMP wait policy -> <prefix>.<POLICY>.json
  local pol
  for pol in $peer_policies; do
    OMP_WAIT_POLICY="$pol" "$py" "$here/torch_peer.py" "$1" --prompt-ids "$2" --gen "$gen" --threads "$threads" > "$3.$pol.json"
  done
}

run_case() {  # name dir
  local name="$1" dir="$2"
  # probes off only: this measures the engine, not the recorder (bench reports that overhead itself)
  "$bin" bench "$dir" --threads "$threads" --prompt-len "$plen" --gen "$gen" --probes off --reps 3 --json > "$tmp/$name.ours.0.json"
  local ids
  ids="$("$py" -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))['prompt_ids'])))" "$tmp/$name.ours.0.json")"
  run_peer "$dir" "$ids" "$tmp/$name.peer.0"
  for ((r = 1; r < rounds; r++)); do
    "$bin" bench "$dir" --threads "$threads" --prompt-ids "$ids" --gen "$gen" --probes off --reps 3 --json --no-stream > "$tmp/$name.ours.$r.json"
    run_peer "$dir" "$ids" "$tmp/$name.peer.$r"
  done
}
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
run_case demo "$demo"
run_case "$synth_case" "$synth"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

"$py" - "$tmp" "$rounds" "$threads" "$load_before" "$load_after" "$synth_case" <<'PY'
import glob, json, os, sys
tmp, rounds, threads, lb, la, synth_case = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
out = {"threads": threads, "rounds": rounds, "loadavg_before": lb, "loadavg_after": la,
       "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
       "synthetic_plan": json.load(open(os.path.join(tmp, "synth-plan.json"))).get("synthetic")}
for name in ("demo", synth_case):
    ours = [json.load(open(os.path.join(tmp, f"{name}.ours.{r}.json"))) for r in range(rounds)]
    peer = []
    for r in range(rounds):
        for f in sorted(glob.glob(os.path.join(tmp, f"{name}.peer.{r}.*.json"))):
            p = json.load(open(f))
            p["omp_wait_policy"] = f.rsplit(".", 2)[-2]
            peer.append(p)
    o_dec = max(o["probes_off"]["decode_tok_s"] for o in ours)
    o_pre = max(o["probes_off"]["prefill_tok_s"] for o in ours)
    p_dec = max(p["decode_tok_s"] for p in peer)
    p_pre = max(p["prefill_tok_s"] for p in peer)
    a, b = ours[0]["greedy_ids"], peer[0]["greedy_ids"]
    same = 0
    while same < min(len(a), len(b)) and a[same] == b[same]:
        same += 1
    out[name] = {
        "model": ours[0]["model"], "prompt_len": ours[0]["prompt_len"], "gen": ours[0]["gen"],
        "ours": {"decode_tok_s": o_dec, "prefill_tok_s": o_pre,
                 "decode_tok_s_rounds": [o["probes_off"]["decode_tok_s"] for o in ours],
                 "prefill_tok_s_rounds": [o["probes_off"]["prefill_tok_s"] for o in ours],
                 "peak_rss_bytes": ours[0]["memory"]["peak_rss_bytes"], "weights_bytes": ours[0]["memory"]["weights_bytes"],
                 "bandwidth": ours[0]["bandwidth"],
                 "prefill_rows_by_tokens_per_expert": ours[0].get("prefill_routing", {}).get("row_fraction_by_tokens_per_expert")},
        "peer": {"decode_tok_s": p_dec, "prefill_tok_s": p_pre, "what": peer[0]["peer"], "blas": peer[0]["blas"],
                 "runs": [{"omp_wait_policy": p["omp_wait_policy"], "decode_tok_s": p["decode_tok_s"],
                           "prefill_tok_s": p["prefill_tok_s"]} for p in peer]},
        "ratio": {"decode": o_dec / p_dec if p_dec else None, "prefill": o_pre / p_pre if p_pre else None},
        "greedy_ids_match": a == b, "greedy_ids_matching_prefix": same,
    }
print(json.dumps(out, indent=2))
PY
