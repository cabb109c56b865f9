"""Files named on the command line (``chatops ask --file``), read as Slack uploads are read: the same
caps, gunzip, binary refusal and log detection (file_documents.py).

They are the files attached to the question, so they answer in every mode, ``logs`` included.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from worker.documents.base import GatherRequest
from worker.documents.document import Document
from worker.documents.file_content import UnreadableContent
from worker.documents.file_documents import file_documents, read_file_stream
from worker.documents.log_format import looks_like_log_name
from worker.documents.settings import GatheringSettings
from worker.documents.skipped import skipped_document

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 20


class LocalFiles:
    name = "thread_files"  # the question's own files, as a Slack question's attachments are

    def __init__(self, paths: list[Path], settings: GatheringSettings) -> None:
        self.paths = paths
        self.settings = settings

    def gather(self, request: GatherRequest) -> list[Document]:
        return [document for path in self.paths for document in self.read(path)]

    def read(self, path: Path) -> list[Document]:
        doc_id = f"file:{path}"
        try:
            with path.open("rb") as file:
                content = read_file_stream(_chunks(file), gzipped=path.suffix == ".gz",
                                           named_as_log=looks_like_log_name(path.name), caps=self.settings.caps)
        except (OSError, UnreadableContent) as error:
            reason = error.strerror or str(error) if isinstance(error, OSError) else str(error)
            log.info("skipping %s: %s", path, reason)
            return [skipped_document(doc_id, path.name, reason)]
        return file_documents(content, doc_id=doc_id, name=path.name, title=path.name, link=str(path),
                              named_as_log=looks_like_log_name(path.name), caps=self.settings.caps)


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(READ_CHUNK):
        yield chunk
