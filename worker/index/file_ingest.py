"""A Slack file read and indexed when it is shared (the ingest job), so the first question about it
finds it in the index. Read as a question would read it (``SlackFileReader``: the same caps, gunzip, log
reduction, files read before not downloaded again), redacted, indexed."""

from __future__ import annotations

import logging

from worker.documents.redact import DocumentRedactor
from worker.documents.skipped import is_skipped
from worker.documents.slack_files import SlackFileReader
from worker.index.chunk_index import ChunkIndex, IndexReport

log = logging.getLogger(__name__)


class FileIngest:
    def __init__(self, reader: SlackFileReader, index: ChunkIndex, redactor: DocumentRedactor | None = None) -> None:
        self.reader = reader
        self.index = index
        self.redactor = redactor or DocumentRedactor()  # the gatherer's: the same redacted documents

    def ingest(self, file_id: str, channel: str) -> IndexReport:
        documents = self.reader.read_id(file_id, channel)
        for document in documents:
            for note in document.notes:
                log.info("ingest %s: %s", file_id, note)
        readable = [self.redactor.document(d) for d in documents if not is_skipped(d)]
        report = self.index.index(readable)
        log.info("ingested file %s: %d documents, %d indexed now (%d chunks), %d already indexed", file_id,
                 report.documents, report.indexed, report.chunks, report.reused)
        return report
