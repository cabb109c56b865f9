"""A placeholder for a document that could not be read, so the reason reaches the user.

Sources return it in place of the document (``Source.gather`` reports problems through ``Document.notes``);
it carries the same visibility as the document would have, so a skip note about a private file is never
shown outside the conversations that file was shared in. The gatherer keeps its note and drops it.
"""

from __future__ import annotations

from worker.documents.document import Document

SKIPPED_KIND = "skipped"


def skipped_document(doc_id: str, name: str, reason: str, *, visible_in: tuple[str, ...] = (),
                     restricted: bool = False) -> Document:
    return Document(doc_id=doc_id, title=name, text="", kind=SKIPPED_KIND, notes=(f"skipped {name}: {reason}",),
                    visible_in=visible_in, restricted=restricted)


def is_skipped(document: Document) -> bool:
    return document.kind == SKIPPED_KIND
