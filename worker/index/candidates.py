"""What the index hands an engine for one question: the candidate chunks, their dense vectors as one
matrix and BM25 postings over exactly these chunks. Built from index entries once per distinct set of
documents and reused by every later question over the same set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from worker.documents.document import Chunk, Document
from worker.index.entry import IndexEntry
from worker.index.lexical import Postings


@dataclass(frozen=True)
class Candidates:
    """``chunks[i]``'s vector is ``vectors[i]`` and its BM25 row is ``i`` in ``postings``. Order: the
    incident chunks of every log (stack traces, then errors, then warnings; documents in the order given),
    then every other chunk, document by document, in file order (as chunking.order_chunks)."""

    chunks: list[Chunk]
    vectors: np.ndarray  # [N, D] float32, unit norm
    postings: Postings
    notes: tuple[str, ...] = ()  # shown with the answer, e.g. a file that has to be shared again

    @property
    def nbytes(self) -> int:
        return self.vectors.nbytes + self.postings.nbytes + sum(len(c.text) for c in self.chunks)

    @classmethod
    def assemble(cls, documents: Sequence[Document], entries: Sequence[IndexEntry]) -> Candidates:
        sizes = [len(e) for e in entries]
        starts = np.cumsum([0, *sizes])[:-1]
        if not entries:
            return cls([], np.zeros((0, 0), np.float32), Postings([]))
        severity = np.concatenate([e.severities for e in entries]).astype(np.int32)
        position = np.repeat(np.arange(len(entries)), sizes)
        within = np.concatenate([e.lines[:, 2] for e in entries])
        incident = severity > 0
        # incidents: most severe first, then document order, then file order; others: document, file order
        order = np.lexsort((within, position, -severity, ~incident))
        chunks = [c for document, entry in zip(documents, entries, strict=True) for c in entry.chunks_for(document)]
        dim = next((e.vectors.shape[1] for e in entries if e.vectors.ndim == 2), 0)
        vectors = np.concatenate([e.vectors.reshape(len(e), dim) for e in entries])
        postings = Postings([(e.terms, int(s)) for e, s in zip(entries, starts, strict=True)])
        postings.reorder(order)
        return cls([chunks[i] for i in order.tolist()], vectors[order].astype(np.float32), postings)

    def dense_scores(self, query_vector: np.ndarray) -> np.ndarray:  # [N] float32
        return self.vectors @ query_vector.astype(np.float32)
