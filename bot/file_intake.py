"""From a file shared in Slack to an ingest job: the worker reads and indexes it before anyone asks."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from redis.exceptions import RedisError
from rq import Queue

from jobs.ingest import IngestJob, enqueue_ingest

log = logging.getLogger(__name__)


@dataclass
class FileIntake:
    queue: Queue  # jobs.ingest.ingest_queue

    def submit(self, file_ids: Iterable[str], channel: str) -> None:
        """Queue each file once. Never raises: a file not indexed now is read when someone asks about it."""
        for file_id in file_ids:
            try:
                if enqueue_ingest(self.queue, IngestJob(file_id, channel)) is not None:
                    log.info("queued ingestion of file %s shared in %s", file_id, channel)
            except RedisError:
                log.warning("could not queue ingestion of file %s: it will be read when asked about", file_id)
