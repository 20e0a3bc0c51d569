#!/usr/bin/env bash
# Fuzzes the HDF5 trace reader for a bounded time and checks what a user would see for every input it
# flags. HDF5 1.10 itself crashes or loops on some corrupt files (tests/fixtures/corrupt/README.md), so the
# fuzzer runs in fork mode and keeps going after a crash; then, for each crashing/hanging input:
#   - a crash whose innermost frame is outside libhdf5 is OUR bug: fail;
#   - every input must reach the user as one error line from `moescope export` (the reader runs HDF5 in a
#     time-limited child process), exit status 1, or read cleanly (exit 0: a fault only the sanitizer
#     sees inside HDF5), never a signal or a hang: otherwise fail.
#   scripts/fuzz-trace-reader.sh [SECONDS=60] [BUILD_DIR=build/release]
# Needs the fuzz build (scripts/fuzz.sh builds it) and BUILD_DIR/app/moescope.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
bin=${2:-$root/build/release}/app/moescope
fuzzb=${MOESCOPE_FUZZ_BUILD:-$root/build-fuzz}
[ -x "$bin" ] || { echo "fuzz-trace-reader: $bin not found" >&2; exit 2; }
if [ ! -x "$fuzzb/fuzz/fuzz_trace_reader" ]; then
  "$root/scripts/fuzz.sh" 0 fuzz_safetensors >/dev/null  # configures and builds every fuzzer
fi
found="$fuzzb/findings/fuzz_trace_reader"
work="$fuzzb/corpus/trace_reader"
rm -rf "$found"
mkdir -p "$found" "$work"
cp -n "$root/fuzz/corpus/trace_reader"/* "$work"/ 2>/dev/null || true
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "== fuzz_trace_reader: ${secs}s (fork mode, continuing after crashes)"
(cd "$found" && "$fuzzb/fuzz/fuzz_trace_reader" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -artifact_prefix="$found/" "$work" \
  > "$found/fuzz.log" 2>&1) || true
grep -E "^#[0-9]+.*DONE|INFO: fuzzed for" "$found/fuzz.log" | tail -2 || true

status=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
n=0
for f in "$found"/crash-* "$found"/timeout-* "$found"/oom-* "$found"/leak-*; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  kind=$(basename "$f"); kind=${kind%%-*}
  if [ "$kind" = crash ]; then
    # Where did it crash? Re-run just this input (no fork) and read the innermost frame that is not a
    # sanitizer interceptor or libc (a memcpy HDF5 calls is HDF5's crash).
    frame=$(timeout 60 "$fuzzb/fuzz/fuzz_trace_reader" "$f" 2>&1 | grep -E '^ *#[0-9]+ ' |
      grep -v -E '__interceptor_|__asan|__sanitizer|__ubsan|/libc\.so|/libstdc\+\+' | head -1 || true)
    case "$frame" in
      *libhdf5*|*H5*) ;;  # HDF5's own crash: the reader's child process must contain it (checked below)
      *) echo "FAIL: $f crashes outside HDF5: $frame"; status=1 ;;
    esac
  fi
  set +e
  timeout 120 "$bin" export "$f" --csv "$scratch/csv" > /dev/null 2> "$scratch/err"
  rc=$?
  set -e
  first=$(head -1 "$scratch/err")
  if [ $rc -eq 0 ]; then
    # HDF5's fault here is one only the sanitizer sees (e.g. a read of freed memory); without it the file
    # reads and passes the reader's own shape checks.
    echo "ok: $kind input -> read cleanly by the release build"
  elif [ $rc -ne 1 ] || [[ "$first" != "moescope export: error: "* ]]; then
    echo "FAIL: $f ($kind): moescope export exited $rc: $first"
    status=1
  else
    echo "ok: $kind input -> $first"
  fi
done
echo "fuzz_trace_reader: $n flagged input(s) checked"
exit $status
