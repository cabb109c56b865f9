"""The engine interface that every answer engine implements (default engine, CLaRa engine).

A question is answered from candidate *chunks*: pieces of gathered documents small enough for the
engine's encoder (``Engine.max_chunk_tokens`` tokens as counted by ``Engine.count_tokens``). Each chunk
remembers its document and line range, so an answer can cite the exact place it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


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


@dataclass(frozen=True)
class Chunk:
    """A piece of a document of at most ``max_chunk_tokens`` tokens, with its 1-based line range."""

    document: Document
    text: str
    line_start: int
    line_end: int
    index: int = 0  # position of the chunk within its document

    @property
    def chunk_id(self) -> str:
        return f"{self.document.doc_id}#L{self.line_start}-L{self.line_end}"


@dataclass(frozen=True)
class Citation:
    chunk: Chunk
    score: float  # retrieval score, higher is better (cosine similarity for dense retrievers)


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]  # best first
    engine: str  # which engine answered, shown in the footer
    extractive: bool = False  # True when the text is quoted from documents, not generated
    notes: tuple[str, ...] = field(default=())  # e.g. "used 3 of 5 documents: the prompt was full"


@dataclass(frozen=True)
class Question:
    text: str
    chunks: Sequence[Chunk]


class Engine(Protocol):
    """What the worker needs from an answer engine.

    ``answer_batch`` answers several questions at once (each with its own candidates, any number of
    them, including fewer than the engine's top-k); engines that cannot batch loop over ``answer``.
    """

    name: str
    max_chunk_tokens: int

    def count_tokens(self, text: str) -> int: ...

    def answer(self, question: str, chunks: Sequence[Chunk]) -> Answer: ...

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]: ...


class Retriever(Protocol):
    """Ranks candidate chunks for a question; used alone by the default engine and by CLaRa
    checkpoints that have no query reasoner (Base, Instruct) to choose what CLaRa generates from."""

    def rank(self, question: str, chunks: Sequence[Chunk], k: int) -> list[Citation]:
        """The best ``min(k, len(chunks))`` chunks, best first, with their scores."""
        ...
