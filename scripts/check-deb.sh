#!/usr/bin/env bash
# Builds the Debian package from an existing build directory and checks it works where it is installed:
# unpacks it into a scratch root (dpkg -x, no root needed), validates the desktop entry and AppStream
# metainfo when the tools exist, then runs the installed binary on the installed demo checkpoint
# (`info`, `generate`) and checks that it finds its datasets next to itself (<exe>/../share/moescope).
#   scripts/check-deb.sh [BUILD_DIR=build-rel]
# BUILD_DIR should be a Release build with MOESCOPE_NATIVE=OFF (portable); it is built (target
# moescope) before packaging.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-rel}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "check-deb: no build directory ${1:-build-rel}" >&2; exit 2; }
[ -f "$build/CMakeCache.txt" ] || { echo "check-deb: $build is not a configured build directory" >&2; exit 2; }
if grep -q '^MOESCOPE_NATIVE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "check-deb: $build has MOESCOPE_NATIVE=ON (-march=native): not a portable package" >&2; exit 2
fi
fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }

cmake --build "$build" --target moescope -j"${JOBS:-2}" >/dev/null  # builds moescope-gui too when GUI is on
(cd "$build" && cpack -G DEB >/dev/null 2>&1)
deb=$(ls -t "$build"/moescope_*.deb | head -1)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb -f "$deb" Package Version Architecture Depends Recommends

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
dpkg-deb -x "$deb" "$scratch/root"
inst="$scratch/root/usr"
for f in bin/moescope lib/moescope/moescope-trace-probe share/applications/io.github.moescope.MoEScope.desktop \
         share/metainfo/io.github.moescope.MoEScope.metainfo.xml share/icons/hicolor/scalable/apps/moescope.svg \
         share/moescope/datasets/moescope-demo-mixtral/config.json \
         share/moescope/datasets/moescope-demo-mixtral/tokenizer.json \
         share/moescope/datasets/prompts/demo-domains.jsonl; do
  [ -e "$inst/$f" ] || fail "missing /usr/$f"
done
gui_on=""; grep -q '^MOESCOPE_GUI:BOOL=ON' "$build/CMakeCache.txt" && gui_on=1
if [ -n "$gui_on" ]; then
  [ -x "$inst/bin/moescope-gui" ] || fail "missing /usr/bin/moescope-gui (the desktop app \`moescope\` execs)"
  ldd "$inst/bin/moescope-gui" | grep -q "not found" && fail "moescope-gui: unresolved libraries"
  dpkg-deb -f "$deb" Depends | grep -q libqt6widgets || fail "Depends lacks libqt6widgets6"
fi
# Headless commands load no Qt (the GUI is a separate executable).
ldd "$inst/bin/moescope" | grep -q libQt6 && fail "bin/moescope links Qt"
# Every dependency of the binary is declared (shlibdeps found something) and resolvable here.
dpkg-deb -f "$deb" Depends | grep -q libhdf5 || fail "Depends lacks libhdf5"
ldd "$inst/bin/moescope" | grep -q "not found" && fail "unresolved libraries: $(ldd "$inst/bin/moescope" | grep 'not found')"
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net "$inst/share/metainfo/io.github.moescope.MoEScope.metainfo.xml" >/dev/null ||
    fail "appstreamcli validate"
fi
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$inst/share/applications/io.github.moescope.MoEScope.desktop" || fail "desktop-file-validate"
fi
grep -q '^Exec=moescope' "$inst/share/applications/io.github.moescope.MoEScope.desktop" || fail "desktop Exec"
grep -q '^Icon=moescope$' "$inst/share/applications/io.github.moescope.MoEScope.desktop" || fail "desktop Icon"

demo="$inst/share/moescope/datasets/moescope-demo-mixtral"
# Run from elsewhere with MOESCOPE_DATASETS unset, so nothing but the installed tree is involved.
cd "$scratch"
unset MOESCOPE_DATASETS
info=$("$inst/bin/moescope" info "$demo") || fail "moescope info"
echo "$info" | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["family"]=="mixtral" and j["checkpoint_params_match"], j; print("info: family", j["family"], "params", j["params"]["total"])' ||
  fail "info output"
text=$("$inst/bin/moescope" generate "$demo" --prompt "The capital of France is" --max-new-tokens 12 --greedy) ||
  fail "moescope generate"
[ -n "$(echo "$text" | tr -d '[:space:]')" ] || fail "generate printed nothing"
echo "generate: $text"
"$inst/bin/moescope" trace "$demo" --prompt "Hello" --max-new-tokens 4 --greedy -o "$scratch/t.h5" >/dev/null || fail "trace"
"$inst/bin/moescope" export "$scratch/t.h5" --csv "$scratch/csv" >/dev/null || fail "export of the installed trace"
# A trace that crashes HDF5 itself is read by the installed probe helper first: one error line, exit 1.
set +e
err=$("$inst/bin/moescope" export "$root/tests/fixtures/corrupt/hdf5-crash-attr-iterate.h5" --csv "$scratch/csv2" 2>&1 >/dev/null)
rc=$?
set -e
[ $rc -eq 1 ] && [[ "$err" == *"HDF5 library crashed"* ]] || fail "corrupt trace: exit $rc: $err"
# The binary's default datasets directory is the installed one (the GUI opens the demo from there).
if command -v strace >/dev/null && [ -n "$(ldconfig -p | grep libQt6Widgets)" ] && [ -n "$gui_on" ]; then
  QT_QPA_PLATFORM=offscreen timeout 8 strace -f -e trace=openat -o "$scratch/strace.txt" "$inst/bin/moescope" >/dev/null 2>&1 || true
  grep -q "$inst/share/moescope/datasets/moescope-demo-mixtral/config.json" "$scratch/strace.txt" ||
    fail "the installed GUI did not open the installed demo"
  echo "gui: opened the installed demo checkpoint"
fi
echo "check-deb: OK"
