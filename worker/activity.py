"""What this worker tells the bot's App Home through Redis (``jobs.activity``): which engine it runs, kept
registered while it lives, and what each channel's last question read."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter

from redis import Redis
from redis.exceptions import RedisError

from jobs.activity import (
    WORKER_TTL_S,
    ChannelSourceCounts,
    WorkerInfo,
    record_channel_sources,
    register_worker,
    unregister_worker,
)
from jobs.payload import QuestionJob
from worker.documents.gather import Gathered
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)

_KIND_COUNTS = {"runbook": "runbooks", "file": "files", "log": "files", "text": "files", "pin": "pins",
                "bookmark": "bookmarks", "link": "pages"}


def worker_info(settings: WorkerSettings, engine_name: str, name: str | None = None) -> WorkerInfo:
    """The engine, the CLaRa checkpoint by its last two folder names (``CLaRa-7B-E2E/compression-16``)
    and the runbook folder by its base URL or folder name: never a full path of this machine."""
    checkpoint = settings.clara.checkpoint_dir
    runbooks = settings.gathering.runbook_base_url or (
        settings.gathering.runbook_dir.name if settings.gathering.runbook_dir else None)
    return WorkerInfo(name=name or f"{socket.gethostname()}-{os.getpid()}", engine=engine_name,
                      checkpoint="/".join(checkpoint.parts[-2:]) if checkpoint else None, runbooks=runbooks)


class WorkerRegistration:
    """Keeps ``info`` registered in Redis from a daemon thread, renewed every third of its lifetime,
    until ``stop()`` (which removes it)."""

    def __init__(self, redis: Redis, info: WorkerInfo, ttl: int = WORKER_TTL_S) -> None:
        self.redis = redis
        self.info = info
        self.ttl = ttl
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registration", daemon=True)

    def start(self) -> WorkerRegistration:
        self._renew()
        self._thread.start()
        return self

    def _renew(self) -> None:
        try:
            register_worker(self.redis, self.info, self.ttl)
        except RedisError as error:  # the next renewal may get through
            log.warning("could not register this worker in Redis: %s", error)

    def _run(self) -> None:
        while not self._stopped.wait(self.ttl / 3):
            self._renew()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        try:
            unregister_worker(self.redis, self.info.name)
        except RedisError:
            log.warning("could not unregister this worker; its entry expires in %d s", self.ttl)


class ChannelSourceRecorder:
    """The pipeline's ``on_gathered`` hook: after an "ask" question (the one mode that reads the sources
    the channel is configured for), record how many documents of each kind were read for its channel
    (in an assistant thread: the channel the user was viewing)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def __call__(self, job: QuestionJob, gathered: Gathered) -> None:
        if job.mode != "ask":
            return
        kinds = Counter(_KIND_COUNTS[d.kind] for d in gathered.documents if d.kind in _KIND_COUNTS)
        try:
            record_channel_sources(self.redis, job.context_channel or job.channel, ChannelSourceCounts(**kinds))
        except RedisError as error:
            log.warning("could not record the sources of %s: %s", job.channel, error)
