"""The lexical side of the index: terms of a chunk as 64-bit hashes with counts, and BM25 over a candidate
set from postings sorted by term, so a question costs a binary search per query term, not a pass over
every chunk in Python.

A term is a lower-cased run of letters, digits and ``_`` (as the default engine has always split words).
Its id is ``crc32 << 32 | adler32`` of its UTF-8 bytes: stable across processes and machines, so postings
stored in Redis by one worker are read by another; two distinct terms share an id with odds of about one
in 2^64 per pair.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"[A-Za-z0-9_]+")
K1 = 1.5  # rank-bm25's BM25Okapi defaults, which the engine used before the index
B = 0.75


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def term_id(term: str) -> int:
    data = term.encode("utf-8")
    return (zlib.crc32(data) << 32) | zlib.adler32(data)


@dataclass(frozen=True)
class TermCounts:
    """The terms of N chunks, CSR-like: chunk i's terms are ``ids[offsets[i]:offsets[i+1]]``."""

    ids: np.ndarray  # [nnz] uint64
    counts: np.ndarray  # [nnz] uint16
    offsets: np.ndarray  # [N + 1] int64
    lengths: np.ndarray  # [N] int32: terms in each chunk, repeats included

    @classmethod
    def of(cls, texts: Sequence[str]) -> TermCounts:
        ids: list[int] = []
        counts: list[int] = []
        offsets = [0]
        lengths = []
        for text in texts:
            counted = Counter(words(text))
            ids.extend(term_id(t) for t in counted)
            counts.extend(min(c, 65535) for c in counted.values())
            offsets.append(len(ids))
            lengths.append(sum(counted.values()))
        return cls(np.asarray(ids, np.uint64), np.asarray(counts, np.uint16), np.asarray(offsets, np.int64),
                   np.asarray(lengths, np.int32))


class Postings:
    """BM25 over a fixed candidate set: (term id, chunk row, count) sorted by term id."""

    def __init__(self, parts: Sequence[tuple[TermCounts, int]]) -> None:
        """``parts``: each chunk block's terms and the candidate row of its first chunk."""
        rows = [np.repeat(np.arange(start, start + len(p.lengths), dtype=np.int32), np.diff(p.offsets))
                for p, start in parts]
        ids = np.concatenate([p.ids for p, _ in parts]) if parts else np.zeros(0, np.uint64)
        order = np.argsort(ids, kind="stable")
        self.ids = ids[order]  # [nnz] sorted
        self.rows = (np.concatenate(rows) if rows else np.zeros(0, np.int32))[order]  # [nnz]
        self.counts = (np.concatenate([p.counts for p, _ in parts]) if parts
                       else np.zeros(0, np.uint16))[order].astype(np.float32)
        self.lengths = (np.concatenate([p.lengths for p, _ in parts]) if parts
                        else np.zeros(0, np.int32)).astype(np.float32)  # [N]
        self.n = len(self.lengths)
        self.avg_length = float(self.lengths.mean()) if self.n else 0.0

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + self.rows.nbytes + self.counts.nbytes + self.lengths.nbytes

    def scores(self, query: str) -> np.ndarray:  # [N] float32
        """BM25 (Okapi) scores of every candidate for the query's terms; a repeated query term counts
        again. A term in more than half the candidates (negative idf) weighs a quarter of the query
        terms' mean idf instead."""
        out = np.zeros(self.n, np.float32)
        terms = words(query)
        if not self.n or not terms:
            return out
        norm = K1 * (1 - B + B * self.lengths / max(self.avg_length, 1e-9))  # [N]
        found = []
        for term in terms:
            tid = np.uint64(term_id(term))
            lo, hi = np.searchsorted(self.ids, tid, "left"), np.searchsorted(self.ids, tid, "right")
            found.append((lo, hi))
        dfs = np.asarray([hi - lo for lo, hi in found], np.float64)
        idf = np.log((self.n - dfs + 0.5) / (dfs + 0.5))
        floor = 0.25 * float(idf.mean()) if len(idf) else 0.0
        idf = np.where(idf < 0, floor, idf)
        for (lo, hi), weight in zip(found, idf, strict=True):
            if hi > lo:
                rows, tf = self.rows[lo:hi], self.counts[lo:hi]
                out[rows] += np.float32(weight) * tf * (K1 + 1) / (tf + norm[rows])
        return out

    def reorder(self, order: np.ndarray) -> None:
        """Renumber the rows: candidate ``order[j]`` becomes row ``j``."""
        new_row = np.empty(len(order), np.int32)
        new_row[order] = np.arange(len(order), dtype=np.int32)
        self.rows = new_row[self.rows] if len(self.rows) else self.rows
        self.lengths = self.lengths[order]
