#!/usr/bin/env bash
# Creates the virtualenv the CPU benchmark's peers run in: numpy, PyTorch (CPU) and MLX (CPU),
# then prints the line that points fastpath at it.
#
#   bench/peers/setup_venv.sh            # venv in ~/.cache/fastpath/peers-venv
#   FASTPATH_PEERS_VENV=/path bench/peers/setup_venv.sh
set -euo pipefail
VENV="${FASTPATH_PEERS_VENV:-$HOME/.cache/fastpath/peers-venv}"
python3 -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install --quiet --upgrade pip
"$PIP" install --quiet numpy
# CPU-only PyTorch (~200 MB) from PyTorch's own index. Where that index is unreachable, PyPI's
# default Linux wheel works too: it is the CUDA build (~4 GB with its NVIDIA libraries) and runs
# on the CPU when no GPU is present.
"$PIP" install --quiet torch --index-url https://download.pytorch.org/whl/cpu \
  || "$PIP" install --quiet torch \
  || echo "warning: PyTorch could not be installed; torch will be listed as a missing peer" >&2
# MLX: on Linux the CPU backend comes as the mlx[cpu] extra; on macOS the plain wheel has Metal.
if [ "$(uname)" = Darwin ]; then MLX=mlx; else MLX='mlx[cpu]'; fi
"$PIP" install --quiet "$MLX" \
  || echo "warning: MLX could not be installed; mlx will be listed as a missing peer" >&2
"$VENV/bin/python" - <<'PY'
import importlib
for name in ("numpy", "torch", "mlx.core"):
    try:
        m = importlib.import_module(name)
        print(f"{name:9} {getattr(m, '__version__', '?')}")
    except Exception as e:
        print(f"{name:9} missing ({e})")
PY
echo "export FASTPATH_PYTHON=$VENV/bin/python"
