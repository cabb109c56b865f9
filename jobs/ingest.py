"""Putting file-ingest jobs on their own RQ queue: a file shared in Slack is read and indexed before anyone
asks about it. Workers take questions first (RQ takes from its queues in order), so a question never
waits behind ingestion; the same file shared twice (``file_shared`` and the message event, or a
redelivery) is queued once."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs import defaults

log = logging.getLogger(__name__)

INGEST_FILE = "worker.ingest_job.ingest_file"  # the job function, by dotted path
INGEST_TIMEOUT_S = 1800  # a 1 GB log read whole
RESULT_TTL_S = 86400  # a file shared again within a day is not queued again (its job id is still taken)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class IngestJob:
    file_id: str
    channel: str  # where it was shared: where a "not found" note would belong

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestJob:
        return cls(file_id=str(data["file_id"]), channel=str(data.get("channel") or ""))


def ingest_queue_name(question_queue_name: str = defaults.QUEUE_NAME) -> str:
    """The ingest queue that goes with a question queue (``chatops`` -> ``chatops-ingest``)."""
    return f"{question_queue_name}-ingest"


def ingest_queue(connection: Redis, question_queue_name: str = defaults.QUEUE_NAME) -> Queue:
    return Queue(ingest_queue_name(question_queue_name), connection=connection, serializer=JSONSerializer)


def enqueue_ingest(queue: Queue, job: IngestJob) -> Job | None:
    """Queue the file's ingestion once; None when it is already queued or was done within a day."""
    try:
        return queue.enqueue(INGEST_FILE, job.to_dict(), job_id="ingest-" + _UNSAFE.sub("_", job.file_id)[:200],
                             unique=True, job_timeout=INGEST_TIMEOUT_S, result_ttl=RESULT_TTL_S,
                             failure_ttl=7 * 86400, description=f"ingest file {job.file_id}")
    except DuplicateJobError:
        log.info("file %s is already queued for ingestion", job.file_id)
        return None
