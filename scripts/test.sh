#!/usr/bin/env bash
# Lint, type-check and run the tests against a real Redis (started if none runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/redis.sh
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
.venv/bin/python -m pytest -q "$@"
