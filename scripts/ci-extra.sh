#!/usr/bin/env bash
# Checks CI runs after the test suite (expects build/release from `scripts/bootstrap.sh --test`):
#  1. the Debian package builds, installs into a scratch root and runs on the installed demo;
#  2. the whole test suite again, built with AddressSanitizer + UndefinedBehaviorSanitizer (the `asan`
#     preset: -O1, LeakSanitizer on, suppressions in tests/sanitizers/lsan.supp);
#  3. each loader fuzzer runs for a bounded time (clang, ASan + UBSan); the trace-reader fuzzer runs in
#     fork mode because HDF5 1.10 itself crashes on some inputs (tests/fixtures/corrupt), and every input
#     it flags must crash inside HDF5 only and reach the user as one error line
#     (scripts/fuzz-trace-reader.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${MOESCOPE_CI_FUZZ_SECONDS:-60}"

missing=()
for p in clang libclang-rt-14-dev dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== Debian package"
scripts/check-deb.sh build/release

echo "== the whole test suite under ASan + UBSan (asan preset)"
t0=$(date +%s)
# -g in the asan flags makes ccache hash the working directory; a clean clone elsewhere may still hit.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$(nproc)"
ctest --preset asan -j"$(nproc)"
echo "asan build + tests: $(( $(date +%s) - t0 )) s"

echo "== fuzzing, ${secs} s per target"
scripts/fuzz.sh "$secs" fuzz_safetensors fuzz_weight_index fuzz_model_config fuzz_tokenizer_json fuzz_tokenizer_encode
scripts/fuzz-trace-reader.sh "$secs" build/release
echo "== extra checks passed"
