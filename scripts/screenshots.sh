#!/usr/bin/env bash
# Regenerates docs/screenshots/*.png from the real app: `moescope --screenshots DIR` opens the demo
# checkpoint (or --model PATH), runs the first demo prompt for 24 tokens, selects a token and saves
# every view offscreen; then repeats the prompt under capacity:1.0 to show dropped tokens.
#   scripts/screenshots.sh [BUILD_DIR] [--model PATH]
# BUILD_DIR defaults to build-gui, then build/release, then build (the first holding app/moescope).
set -euo pipefail
cd "$(dirname "$0")/.."

build=""
if [[ $# -gt 0 && "$1" != --* ]]; then build="$1"; shift; fi
if [[ -z "$build" ]]; then
  for d in build-gui build/release build; do
    if [[ -x "$d/app/moescope" ]]; then build="$d"; break; fi
  done
fi
bin="$build/app/moescope"
if [[ ! -x "$bin" ]]; then
  echo "screenshots.sh: no moescope binary found (build the 'moescope' target with MOESCOPE_GUI=ON first)" >&2
  exit 1
fi

out=docs/screenshots
mkdir -p "$out"
# Offscreen rendering needs no display; a fixed font setting keeps the pictures stable across machines.
export QT_QPA_PLATFORM=offscreen
export QT_FONT_DPI=96
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
"$bin" --screenshots "$out" "$@"
echo "screenshots.sh: wrote $(ls "$out"/*.png | wc -l) PNGs to $out"
