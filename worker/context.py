"""What a worker process loads once and every job uses: the pipeline (engine resident) and clients.

RQ calls job functions by dotted path with JSON arguments only, so the process-wide context is set
once by ``python -m worker`` (or a test) before the first job runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis
from slack_sdk import WebClient

from worker.index.file_ingest import FileIngest
from worker.index.runbook_sync import RunbookSync
from worker.metrics import WorkerMetrics
from worker.pipeline import AnswerPipeline


@dataclass
class WorkerContext:
    pipeline: AnswerPipeline
    slack: WebClient
    redis: Redis
    runbook_sync: RunbookSync | None = None  # keeps the runbook folder indexed (None: no runbook folder)
    file_ingest: FileIngest | None = None  # reads and indexes files shared in Slack (ingest jobs)
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)


class WorkerNotStartedError(RuntimeError):
    """A job ran in a process that did not load the engine (not started through ``python -m worker``)."""


_context: WorkerContext | None = None


def set_context(context: WorkerContext | None) -> None:
    global _context
    _context = context


def current_context() -> WorkerContext:
    if _context is None:
        raise WorkerNotStartedError("this process has no worker context: start it with `python -m worker`")
    return _context


def context_if_started() -> WorkerContext | None:
    """The context, or None in a process that is not a worker (``rq info``, rq-dashboard)."""
    return _context
