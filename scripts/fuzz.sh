#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz: clang, ASan + UBSan, MOESCOPE_FUZZ=ON) and runs each for a
# bounded time on a copy of its seed corpus (fuzz/corpus/<name>, seeded from tests/fixtures).
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
# Crashing inputs land in build-fuzz/findings/<target>/ (crash-*, leak-*, timeout-*); exit status 1 when
# any target found one. Every finding becomes a tests/engine/tst_regress_*.cpp test (docs/reliability.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_safetensors fuzz_weight_index fuzz_model_config fuzz_tokenizer_json
  fuzz_tokenizer_encode fuzz_trace_reader)
build=${MOESCOPE_FUZZ_BUILD:-$root/build-fuzz}
jobs=${JOBS:-2}

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMOESCOPE_FUZZ=ON -DMOESCOPE_SANITIZE=ON -DMOESCOPE_CUDA=OFF -DMOESCOPE_GUI=OFF -DMOESCOPE_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target fuzzers -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  work="$build/corpus/$name"      # grows while fuzzing; the committed seeds stay as they are
  found="$build/findings/$t"
  mkdir -p "$work" "$found"
  cp -n "$root/fuzz/corpus/$name"/* "$work"/ 2>/dev/null || true
  echo "== $t: ${secs}s"
  # -rss_limit_mb: the HDF5 reader legitimately allocates what a (fuzzed) dataset shape asks for, up to
  # the reader's own limits; -timeout catches hangs.
  if ! "$build/fuzz/$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$found/" "$work" > "$build/findings/$t.log" 2>&1; then
    echo "   FINDING: see $build/findings/$t.log and $found/"
    grep -m3 -E "ERROR|runtime error|SUMMARY" "$build/findings/$t.log" || true
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/findings/$t.log" | tr '\n' ' '
  echo
done
exit $status
