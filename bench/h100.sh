#!/usr/bin/env bash
# The NVIDIA H100 sweep for BENCHMARKS.md: fastpath's GPU kernels (Vulkan) and CPU kernels
# beside PyTorch (CPU and CUDA), CuPy and MLX, plus calibration and routing regret
# (H100 against the host CPU).
#
# Runs on the lent device machine (Python 3.12 with torch, cupy, numpy; no Rust, no internet)
# from the repository root, with a release `fastpath` binary carried in. Carry a stripped one:
# the release profile keeps line tables (about 68 MB, over the 64 MiB carry limit; stripped
# about 11 MB), e.g. `strip -o target/fastpath-h100 target/release/fastpath` and
# FASTPATH=target/fastpath-h100, carry ["target/fastpath-h100"]. Built on Debian 12 it needs
# glibc 2.35 (Ubuntu 22.04 or newer). Needs the NVIDIA Vulkan driver (libvulkan.so.1 and the
# NVIDIA ICD); `smoke` shows whether the H100 is the adapter measured.
#
#   bench/h100.sh smoke      # ~30 s: GPU seen, peers importable, two kernels at two sizes
#   bench/h100.sh calibrate  # ~3-4 min: full calibration -> $OUT/h100-profile.json
#   bench/h100.sh bench      # ~4-6 min: 2^10..2^26 (x4), peers torch,cupy,mlx, --regret
#   bench/h100.sh            # calibrate then bench (~8-10 min; split it when a command may
#                            # not run longer than 10 minutes)
#   bench/h100.sh regret     # ~5 min: the routing-regret check of BENCHMARKS.md: a quick
#                            # calibration (with --report), the 2^20 reductions benchmarked
#                            # right after it (do its GPU walls match?), then two regret runs
#                            # at 2^14,2^20,2^26 scored with that profile; all packed into
#                            # $OUT/regret.tgz after each step (the reply returns few files)
#
# `bench` scores `auto` with $OUT/h100-profile.json when a calibration ran in the same call,
# else with $PROFILE if given, else with the fallback rule (the report says which).
#
# Environment: OUT (output folder; the device machine sets it), FASTPATH (binary, default
# target/release/fastpath), FASTPATH_PYTHON (default python3), ADAPTER (--adapter, default:
# the discrete GPU), FASTPATH_COMMIT (the commit measured; the copied tree has no .git),
# SIZES (default 2^10..2^26), PROFILE; for `regret`: CAL_SIZES (default: the quick ladder),
# REGRET_SIZES (default 2^14,2^20,2^26).
# MLX: the machine has no internet; wheels carried in .whl/ (e.g. the mlx-cuda-13 ones) are
# installed into a throwaway venv that also sees the system's torch and cupy. Without them
# mlx is listed as a missing peer.
#
# Outputs under $OUT: h100-profile.json, h100.json, h100.md, h100.svg, h100.png, the console
# output of each step (*.txt) and nvidia-smi.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PHASE="${1:-all}"
OUT="${OUT:-bench/out/h100}"
FASTPATH="${FASTPATH:-target/release/fastpath}"
SIZES="${SIZES:-2^10..2^26}"
PY="${FASTPATH_PYTHON:-python3}"
mkdir -p "$OUT"
ADAPTER_ARGS=()
[ -n "${ADAPTER:-}" ] && ADAPTER_ARGS=(--adapter "$ADAPTER")
[ -x "$FASTPATH" ] || { echo "error: no fastpath binary at $FASTPATH (carry a release build, or set FASTPATH)" >&2; exit 2; }

# Read-only facts about the card (never change its settings).
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit \
  --format=csv > "$OUT/nvidia-smi.txt" 2>&1 || true

if ls .whl/*.whl >/dev/null 2>&1; then
  # Every carried wheel, offline, into a venv that still sees the system's torch and cupy;
  # where venv is unavailable, into a folder on PYTHONPATH.
  VENV=/tmp/fastpath-peers-venv
  if "$PY" -m venv --system-site-packages "$VENV" >/dev/null 2>&1 \
     && "$VENV/bin/pip" install --quiet --no-index --find-links .whl .whl/*.whl >"$OUT/mlx-install.txt" 2>&1; then
    PY="$VENV/bin/python"
  elif "$PY" -m pip install --quiet --no-index --find-links .whl --target /tmp/fastpath-mlx .whl/*.whl \
       >>"$OUT/mlx-install.txt" 2>&1; then
    export PYTHONPATH="/tmp/fastpath-mlx${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "warning: the wheels in .whl/ did not install (see $OUT/mlx-install.txt); mlx will be missing" >&2
  fi
fi
export FASTPATH_PYTHON="$PY"
"$FASTPATH" --version | tee "$OUT/version.txt"

# Stops the sweep early when no GPU adapter opens (a CPU-only "H100" report would waste the
# lease), and says which adapter will be measured.
require_gpu() {
  "$FASTPATH" ${ADAPTER_ARGS[@]+"${ADAPTER_ARGS[@]}"} bench --backend gpu --kernels REDUCE_SUM \
    --sizes 2^10 --reps 1 --json "$OUT/preflight.json" > /dev/null
  "$PY" -c "import json; a = json.load(open('$OUT/preflight.json'))['meta']['gpu']['adapter']; print('GPU measured:', a['name'], '|', a['backend'], a['device_type'], '|', a['driver'], '| timestamps:', a['timestamps'])"
}

smoke() {
  "$FASTPATH" ${ADAPTER_ARGS[@]+"${ADAPTER_ARGS[@]}"} bench --backend all --kernels REDUCE_SUM,MAP_REDUCE_SQUARE_SUM \
    --sizes 2^16,2^24 --compare torch,cupy,mlx --json "$OUT/smoke.json" | tee "$OUT/smoke.txt"
}

calibrate() {
  "$FASTPATH" ${ADAPTER_ARGS[@]+"${ADAPTER_ARGS[@]}"} calibrate --out "$OUT/h100-profile.json" | tee "$OUT/calibrate.txt"
}

bench() {
  local profile_args=()
  if [ -f "$OUT/h100-profile.json" ]; then
    profile_args=(--profile "$OUT/h100-profile.json")
  elif [ -n "${PROFILE:-}" ]; then
    profile_args=(--profile "$PROFILE")
  fi
  "$FASTPATH" ${ADAPTER_ARGS[@]+"${ADAPTER_ARGS[@]}"} bench --sizes "$SIZES" --compare torch,cupy,mlx \
    --regret ${profile_args[@]+"${profile_args[@]}"} \
    --json "$OUT/h100.json" --markdown "$OUT/h100.md" --plot "$OUT/h100.svg" --plot "$OUT/h100.png" \
    > "$OUT/bench.txt"
  # The reply carries the end of the output: the summary lines, not the whole table.
  grep -E '^(CPU:|cpu:|gpu:|peers:|missing peer|geomean|below target|crossover|regret|peer )' "$OUT/bench.txt" || true
}

# Kernels whose CPU and GPU walls are near-ties at 2^20 on the H100 host.
ISO_KERNELS=REDUCE_SUM,REDUCE_MAX,REDUCE_MEAN,REDUCE_L2,REDUCE_ARGMAX,REDUCE_STDDEV,MAP_ABS,MAP_REDUCE_ABS_SUM

regret() {
  local dir="$OUT/regret" cal_sizes=()
  mkdir -p "$dir"
  [ -n "${CAL_SIZES:-}" ] && cal_sizes=(--sizes "$CAL_SIZES")
  pack() { tar -C "$OUT" -czf "$OUT/regret.tgz" regret; }
  "$FASTPATH" ${ADAPTER_ARGS[@]+"${ADAPTER_ARGS[@]}"} calibrate --quick ${cal_sizes[@]+"${cal_sizes[@]}"} \
    --out "$dir/profile.json" --report "$dir/calibration.json" > "$dir/calibrate.txt"
  grep -E '^(crossovers|fixed costs)' "$dir/calibrate.txt" || true
  "$FASTPATH" ${ADAPTER_ARGS[@]+"${ADAPTER_ARGS[@]}"} bench --kernels "$ISO_KERNELS" --sizes 2^20 \
    --json "$dir/iso.json" > /dev/null
  pack
  for run in a b; do
    "$FASTPATH" ${ADAPTER_ARGS[@]+"${ADAPTER_ARGS[@]}"} bench --sizes "${REGRET_SIZES:-2^14,2^20,2^26}" \
      --regret --profile "$dir/profile.json" --json "$dir/regret-$run.json" \
      --markdown "$dir/regret-$run.md" > /dev/null
    echo "regret run $run:"; grep -E '^\| auto' "$dir/regret-$run.md" || true
    pack
  done
}

case "$PHASE" in
  smoke) require_gpu; smoke ;;
  calibrate) require_gpu; calibrate ;;
  bench) require_gpu; bench ;;
  regret) require_gpu; regret ;;
  all) require_gpu; calibrate; bench ;;
  *) echo "usage: bench/h100.sh [smoke|calibrate|bench|regret|all]" >&2; exit 2 ;;
esac
echo "outputs in $OUT:"; ls -l "$OUT"
