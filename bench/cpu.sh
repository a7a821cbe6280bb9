#!/usr/bin/env bash
# The 2-core CPU sweep for BENCHMARKS.md: fastpath's CPU kernels and its GPU kernels on lavapipe
# (Mesa's software Vulkan, the only "GPU" there), beside numpy, torch (CPU) and MLX (CPU).
#
#   bench/peers/setup_venv.sh     # once: the peers' virtualenv
#   bench/cpu.sh                  # about 20 minutes with the 43 kernels of today
#
# Writes under $OUT (default bench/out/cpu): profile.json (calibration), cpu.json, cpu.md,
# cpu.svg, cpu.png, and the console output of each step. Environment: FASTPATH (binary; built
# in release mode when absent), FASTPATH_PYTHON (default: the setup_venv.sh venv), SIZES,
# CAL_SIZES (calibration ladder, default 2^10..2^24).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench/out/cpu}"
SIZES="${SIZES:-2^10..2^24}"
VENV="${FASTPATH_PEERS_VENV:-$HOME/.cache/fastpath/peers-venv}"
export FASTPATH_PYTHON="${FASTPATH_PYTHON:-$VENV/bin/python}"
if [ -z "${FASTPATH:-}" ]; then
  cargo build --release -p fastpath-cli
  FASTPATH="${CARGO_TARGET_DIR:-target}/release/fastpath"
fi
export FASTPATH_COMMIT="${FASTPATH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
mkdir -p "$OUT"
"$FASTPATH" --version | tee "$OUT/version.txt"

# 1. Calibration with the quick policy over the benchmark's largest size (CAL_SIZES): a profile
#    that stops below the sizes it is judged on can only extrapolate there. The profile goes to
#    $OUT so the run below scores `auto` against a profile measured separately from the timings
#    it is judged on.
CAL_SIZES="${CAL_SIZES:-2^10..2^24}"
"$FASTPATH" calibrate --quick --sizes "$CAL_SIZES" --out "$OUT/profile.json" | tee "$OUT/calibrate.txt"

# 2. Every kernel, CPU and lavapipe, 2^10..2^24 (x4), peers side by side, routing regret.
"$FASTPATH" bench --sizes "$SIZES" --compare numpy,torch,mlx \
  --regret --profile "$OUT/profile.json" \
  --json "$OUT/cpu.json" --markdown "$OUT/cpu.md" --plot "$OUT/cpu.svg" --plot "$OUT/cpu.png" | tee "$OUT/bench.txt"

echo "done: $OUT"
