#!/usr/bin/env bash
# One-stop set-up for a fresh Debian bookworm machine (root or sudo):
#   scripts/bootstrap.sh --run    install what is missing, build (Release), open the app on the demo
#   scripts/bootstrap.sh --test   install what is missing, build (Release), run every test through ctest
# Idempotent: packages already installed are skipped, the build is incremental (ccache).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:---run}"
case "$mode" in --run|--test|--build) ;; *) echo "usage: $0 --run | --test | --build" >&2; exit 2;; esac
preset="${MOESCOPE_PRESET:-release}"

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  qt6-base-dev qt6-base-dev-tools qt6-charts-dev libqt6opengl6-dev libgl-dev libxkbcommon-dev
  libhdf5-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev
  googletest libgtest-dev
  xvfb xauth fonts-dejavu-core
  python3 python3-numpy python3-h5py
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The CUDA backend builds when the toolkit is present (nothing runs it without a GPU).
if [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi

echo "== configuring ($preset)"
cmake --preset "$preset" >/dev/null
echo "== building"
cmake --build --preset "$preset" -j "$(nproc)"
bin="build/$preset/app/moescope"

case "$mode" in
  --build) ;;
  --test)
    echo "== testing"
    ctest --preset "$preset" -j "$(nproc)" --timeout 900
    ;;
  --run)
    demo="datasets/moescope-demo-mixtral"
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
      exec "$bin" open "$demo"
    fi
    # No display: run the app offscreen on the demo (load, 24 tokens, every view) and save what it
    # shows, instead of waiting forever for a window nobody can see.
    mkdir -p out
    echo "== no display found: running the app offscreen on the demo checkpoint"
    QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}" \
      "$bin" --screenshots out --model "$demo"
    cp out/main_window.png out/moescope-demo.png
    echo "== the main window as it opened on the demo: out/moescope-demo.png (views: out/*.png)"
    echo "== on a desktop this command opens the window instead"
    ;;
esac
