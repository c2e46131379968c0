#!/usr/bin/env bash
# Build the Python 3.12 environment of the benchmarks against the newest anchors
# (benchmarks/anchors.py, benchmarks/interactions.py, benchmarks/tree_grid.py):
# shap 0.54 and shapiq 1.8 need Python >= 3.12; shapkit itself supports 3.10-3.13.
#
#   bash benchmarks/env312.sh [DIR]       # default DIR: .venv312
#   DIR/bin/python -m benchmarks.anchors
#
# PYTHON312 names the interpreter (default: pyenv's 3.12, else python3.12 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.venv312}"
python="${PYTHON312:-}"
if [[ -z "$python" ]]; then
  if command -v pyenv >/dev/null && pyenv root >/dev/null 2>&1; then
    python="$(ls -d "$(pyenv root)"/versions/3.12*/bin/python 2>/dev/null | tail -1 || true)"
  fi
  python="${python:-$(command -v python3.12 || true)}"
fi
if [[ -z "$python" ]]; then
  echo "env312.sh: no Python 3.12 found; set PYTHON312=/path/to/python3.12" >&2
  exit 1
fi
"$python" -m venv "$dir"
"$dir/bin/python" -m pip install -q --upgrade pip
"$dir/bin/python" -m pip install -q torch==2.13.0
"$dir/bin/python" -m pip install -q "shap==0.54.1" "shapiq[shapleig,sparse]==1.8.0" \
  woodelf-explainer==0.4.8 xgboost lightgbm threadpoolctl -e .
"$dir/bin/python" -c "import shap, shapiq, shapkit; print('shap', shap.__version__, \
'shapiq', shapiq.__version__, 'shapkit', shapkit.__version__)"
