#!/usr/bin/env bash
# Set up a development environment in .venv: CPU PyTorch first (so pip does not pull a CUDA build), then
# the project with the worker and dev extras at exactly the versions locked in uv.lock. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.9
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
quiet() { grep -v "^WARNING: Location" || true; }
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | quiet
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing PyTorch (CPU build)"
  .venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" 2>&1 | quiet
  .venv/bin/python -c "import torch" || { echo "setup: PyTorch did not install" >&2; exit 1; }
fi
echo "setup: installing clara-chatops with the worker and dev extras, pinned by uv.lock"
.venv/bin/python -m pip install -q "uv==$UV_VERSION" 2>&1 | quiet
# every locked version is a constraint; torch is left to the build installed above
.venv/bin/uv export --quiet --frozen --no-hashes --no-emit-project --extra worker --extra dev \
  --no-emit-package torch -o .venv/constraints.txt
.venv/bin/python -m pip install -q -c .venv/constraints.txt -e '.[worker,dev]' 2>&1 | quiet
.venv/bin/python -c "import bot, worker, slack_bolt, rq, sentence_transformers" \
  || { echo "setup: the project did not install" >&2; exit 1; }
echo "setup: done (activate with: . .venv/bin/activate)"
