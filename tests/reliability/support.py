"""Subprocesses of the reliability tests: this venv's Python, run from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def python(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[bytes]:
    """A Python subprocess of this venv, run from the repository root; no metrics server unless ``env``
    names a port (several processes run at once)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "CHATOPS_METRICS_PORT": "0", **(env or {})}
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=full_env, **kwargs)
