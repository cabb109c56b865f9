"""The value types of document gathering: a gathered ``Document``, a ``Chunk`` of one with its exact line
range, and one document's chunks as the chunkers hand them on (``DocumentChunks``).

Sources produce documents, chunking cuts them into chunks small enough for an engine's encoder, and the
engines rank and cite chunks: these types are what travels between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from worker.documents.log_format import Severity

TokenCounter = Callable[[str], int]  # an engine's token count of a text (its encoder's tokenizer)


@dataclass(frozen=True)
class Document:
    """One gathered document: a runbook, an uploaded file or log, a bookmark, a pin, a linked page."""

    doc_id: str  # stable across gatherings, e.g. "runbook:db/failover.md" or "slack-file:F123"
    title: str
    text: str
    kind: str = "text"  # "runbook" | "file" | "log" | "bookmark" | "pin" | "link" | "text"
    link: str | None = None  # URL or path shown in citations
    first_line: int = 1  # line number of the first line of ``text`` in the original file
    notes: tuple[str, ...] = ()  # shown with the answer, e.g. "read the last 5 MB of app.log only"
    # Who may see it. ``restricted=False`` (runbooks, public pages): anyone in the workspace.
    # ``restricted=True`` (anything read from Slack): only where ``visible_in`` (the conversation ids it
    # was shared in) allows; see worker/documents/permissions.py. An empty ``visible_in`` then means nowhere.
    visible_in: tuple[str, ...] = ()
    restricted: bool = False
    # Set when ``text`` was left unread because the index holds this document's chunks under this key (a
    # Slack file read before, recognised by its id and stamp): the chunks come from the index, not the text.
    content_key: str | None = None

    @property
    def file_name(self) -> str:
        """The last part of its link (or id), without a query: "exim-mx2.log", "failover.md"."""
        return (self.link or self.doc_id).rsplit("/", 1)[-1].split("?", 1)[0]


@dataclass(frozen=True)
class Chunk:
    """A piece of a document of at most an engine's ``max_chunk_tokens``, with its 1-based line range."""

    document: Document
    text: str
    line_start: int
    line_end: int
    index: int = 0  # position of the chunk within its document

    @property
    def chunk_id(self) -> str:
        return f"{self.document.doc_id}#L{self.line_start}-L{self.line_end}"

    @property
    def lines(self) -> str:
        """``7`` for one line, ``7-12`` for several: how every citation writes the chunk's range."""
        if self.line_start == self.line_end:
            return str(self.line_start)
        return f"{self.line_start}-{self.line_end}"


@dataclass(frozen=True)
class DocumentChunks:
    """One document's chunks: a log's incident regions with their severity, and everything else."""

    incidents: list[tuple[Severity, Chunk]]  # most severe first; empty for documents that are not logs
    others: list[Chunk]  # file order


def logs_in_file_order(chunks: Sequence[Chunk]) -> list[list[int]]:
    """The positions in ``chunks`` of each log document's chunks, one list a log, in file order."""
    by_log: dict[str, list[int]] = {}
    for index, chunk in enumerate(chunks):
        if chunk.document.kind == "log":
            by_log.setdefault(chunk.document.doc_id, []).append(index)
    return [sorted(indexes, key=lambda i: chunks[i].line_start) for indexes in by_log.values()]
