"""The runbook folder, kept indexed: at worker start (loading what Redis already holds into this process)
and again every ``interval_s`` seconds, when only files whose content changed are indexed again (content
keys); a deleted file is simply no longer a candidate (its entry ages out of Redis)."""

from __future__ import annotations

import logging
import threading

from worker.documents.base import GatherRequest
from worker.documents.redact import DocumentRedactor
from worker.documents.runbooks import RunbookFolder
from worker.documents.skipped import is_skipped
from worker.index.chunk_index import ChunkIndex, IndexReport, Progress

log = logging.getLogger(__name__)

SYNC_REQUEST = GatherRequest(channel="", user="", mode="runbook")


class SyncStopped(Exception):
    """The worker is stopping: the sync ends between two model calls (what was indexed is kept)."""


class RunbookSync:
    def __init__(self, folder: RunbookFolder, index: ChunkIndex, interval_s: int = 60,
                 redactor: DocumentRedactor | None = None) -> None:
        self.folder = folder
        self.index = index
        self.redactor = redactor or DocumentRedactor()  # the gatherer's: the same redacted documents
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()  # set after the first sync (tests, benchmarks)

    def sync(self, progress: Progress | None = None, *, load: bool = False) -> IndexReport:
        documents = [self.redactor.document(d) for d in self.folder.gather(SYNC_REQUEST) if not is_skipped(d)]
        report = self.index.index(documents, progress, load=load)
        if load:
            self.index.candidates(documents)  # a runbook question after start finds its candidates ready
        if report.indexed or load:
            log.info("runbooks in %s: %d documents, %d indexed now (%d chunks, %.1f s), %d already indexed",
                     self.folder.root, report.documents, report.indexed, report.chunks, report.seconds,
                     report.reused)
        return report

    def start(self) -> None:
        """Sync now (loading the index) and then every ``interval_s``, in a background thread: questions
        are taken meanwhile (what they need and is not indexed yet, they index themselves)."""
        self._thread = threading.Thread(target=self._run, name="runbook-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the model call in progress, if any (a sync in progress ends between two)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _stop_between_calls(self, done: int, total: int) -> None:
        if self._stop.is_set():
            raise SyncStopped(f"stopped after indexing {done} of {total} runbooks")

    def _run(self) -> None:
        load = True
        while not self._stop.is_set():
            try:
                self.sync(self._stop_between_calls, load=load)
                load = False
            except SyncStopped as stopped:
                log.info("runbook sync: %s", stopped)
                return
            except Exception:  # a bad rescan must not end the rescans; the next one tries again
                log.exception("runbook sync failed")
            self.synced.set()
            if not self.interval_s or self._stop.wait(self.interval_s):
                return
