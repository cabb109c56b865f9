"""Slack files the index holds, by their stamp (id, size, dates, read caps): what ``SlackFileReader`` asks
before downloading a file (worker/documents/slack_files.py, ``FilesReadBefore``).

The stamp maps to the documents the file's read gave, without their text (their chunks are in the index
under their content keys) and without visibility (always taken from Slack's current answer, so the
permission rules see where the file is shared *now*)."""

from __future__ import annotations

import json
import logging

from worker.documents.document import Document
from worker.documents.redact import DocumentRedactor
from worker.index.chunk_index import content_key
from worker.index.store import IndexStore

log = logging.getLogger(__name__)

_FIELDS = ("doc_id", "title", "kind", "first_line", "notes")


class IndexedFiles:
    def __init__(self, store: IndexStore, redactor: DocumentRedactor | None = None) -> None:
        self.store = store
        self.redactor = redactor or DocumentRedactor()  # the gatherer's: keys of the documents it redacts
    def documents(self, stamp: str) -> list[Document] | None:
        raw = self.store.get_file(stamp)
        if raw is None:
            return None
        try:
            described = json.loads(raw)
            documents = [Document(doc_id=d["doc_id"], title=d["title"], text="", kind=d["kind"],
                                  first_line=int(d["first_line"]), notes=tuple(d["notes"]), content_key=d["key"])
                         for d in described]
        except (ValueError, KeyError, TypeError) as error:
            log.warning("index: unreadable file record %s (%s): reading the file again", stamp, error)
            return None
        keys = {key for d in documents if (key := d.content_key) and d.kind != "skipped"}
        if not keys <= self.store.has(keys):
            return None  # some of it was evicted: read the file again
        return documents

    def remember(self, stamp: str, documents: list[Document]) -> None:
        described = []
        for document in documents:
            entry = {field: getattr(document, field) for field in _FIELDS}
            entry["key"] = content_key(self.redactor.document(document))
            described.append(entry)
        self.store.put_file(stamp, json.dumps(described))
