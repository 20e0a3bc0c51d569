#!/usr/bin/env bash
# Checks CI runs after the test suite (expects build/release from `scripts/bootstrap.sh --test`):
#  1. the Debian package builds, installs into a scratch root and runs on the installed demo;
#  2. each loader fuzzer runs for a bounded time (clang, ASan + UBSan). The trace-reader fuzzer is left
#     to scripts/fuzz.sh: HDF5 1.10 itself crashes on some inputs it finds (tests/fixtures/corrupt),
#     which the reader turns into Errors in a child process; CI would only re-find them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${MOESCOPE_CI_FUZZ_SECONDS:-20}"

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

echo "== fuzzing, ${secs} s per target"
scripts/fuzz.sh "$secs" fuzz_safetensors fuzz_weight_index fuzz_model_config fuzz_tokenizer_json fuzz_tokenizer_encode
echo "== extra checks passed"
