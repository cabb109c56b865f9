"""The RQ job that reads and indexes a file shared in Slack (queued by the bot, jobs/ingest.py). No
placeholder and no reply: the user sees its effect as a fast first answer. A failure is logged and left
to RQ's failed registry; the file is then read by the first question about it."""

from __future__ import annotations

import logging
from typing import Any

from jobs.ingest import IngestJob
from worker.context import current_context

log = logging.getLogger(__name__)


def ingest_file(payload: dict[str, Any]) -> dict[str, Any]:
    """Entry point named by ``jobs.ingest.INGEST_FILE``."""
    context = current_context()
    job = IngestJob.from_dict(payload)
    if context.file_ingest is None:
        log.info("file %s: this worker reads no Slack files; nothing to index", job.file_id)
        return {"indexed": 0}
    report = context.file_ingest.ingest(job.file_id, job.channel)
    return {"documents": report.documents, "indexed": report.indexed, "chunks": report.chunks,
            "reused": report.reused}
