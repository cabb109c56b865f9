"""The engine interface that every answer engine implements (default engine, CLaRa engine).

A question is answered from candidate *chunks*: pieces of gathered documents small enough for the
engine's encoder (``Engine.max_chunk_tokens`` tokens as counted by ``Engine.count_tokens``). Each chunk
remembers its document and line range, so an answer can cite the exact place it came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from worker.documents.document import Chunk

PRECISIONS = ("auto", "fp32", "bf16")  # of the retriever's matrix products (CHATOPS_RETRIEVER_PRECISION)

# what a question asks is read from its first characters: a pasted log after them adds nothing, and every reading
# of the question (intent, times, values, names) runs in bounded time whatever its length
MAX_QUESTION_CHARS = 2000

# English function words: they name no event or party
FUNCTION_WORDS = frozenset(re.findall(r"\w+", "the a an it its this that these those was were is are did does do has"
                                            " had have been be of on in at to for and or but not with from by our we"
                                            " they he she them there then just all any some got get when what why how"
                                            " who which where can could would should will again still also into out"
                                            " after before since until about around over under thing stuff"))

if TYPE_CHECKING:
    from worker.index.candidates import Candidates


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
    # the same chunks as the index hands them over, with their vectors and BM25 postings (None: chunks
    # made on the spot, e.g. by a test or a benchmark; a retriever then embeds them itself)
    candidates: Candidates | None = None


class Engine(Protocol):
    """What the worker needs from an answer engine.

    ``answer_batch`` answers several questions at once (each with its own candidates, any number of
    them, including fewer than the engine's top-k); ``answer_one`` asks it a single question.
    """

    name: str
    max_chunk_tokens: int

    def count_tokens(self, text: str) -> int: ...

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]: ...


def answer_one(engine: Engine, question: str, chunks: Sequence[Chunk]) -> Answer:
    return engine.answer_batch([Question(question, chunks)])[0]


class Retriever(Protocol):
    """Ranks candidate chunks for a question; used alone by the default engine and by CLaRa
    checkpoints that have no query reasoner (Base, Instruct) to choose what CLaRa generates from."""

    def rank(self, question: str, chunks: Sequence[Chunk], k: int, candidates: Candidates | None = None
             ) -> list[Citation]:
        """The best ``min(k, len(chunks))`` chunks, best first, with their scores; ``candidates`` (the same
        chunks from the index) spares embedding them again."""
        ...
