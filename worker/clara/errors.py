"""The CLaRa engine's error: a checkpoint that cannot be loaded as it is."""

from __future__ import annotations

from worker.errors import ChatOpsError


class CheckpointError(ChatOpsError):
    """A model checkpoint is missing a file or does not match what the loader expects."""
