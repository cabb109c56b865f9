"""One indexed document: its chunks (text, line range, severity), their dense vectors and their terms, as
stored in Redis under the document's content key, in one value.

Layout of the stored bytes (little-endian): ``u32`` header length, the header (UTF-8 JSON: chunk texts and
counts; not compressed, so what the index holds can be searched, e.g. for secrets), then the arrays:
vectors ``[N, D]`` float16, line ranges ``[N, 3]`` int32, severities ``[N]`` int8, term lengths ``[N]``
int32, term offsets ``[N+1]`` int64, term ids ``[nnz]`` uint64, term counts ``[nnz]`` uint16.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from worker.documents.document import Chunk, Document
from worker.index.lexical import TermCounts

FORMAT = 1


class EntryFormatError(ValueError):
    """Stored bytes that are not an index entry of this format (a stale or foreign value)."""


@dataclass(frozen=True)
class IndexEntry:
    """A document's chunks as the index keeps them; ``chunks_for`` puts them back on a document."""

    key: str  # the document's content key
    texts: tuple[str, ...]  # chunk texts, incidents first (most severe first), then file order
    lines: np.ndarray  # [N, 3] int32: line_start, line_end, position in the document
    severities: np.ndarray  # [N] int8: 0 for chunks that are not a log's incident
    vectors: np.ndarray  # [N, D] float16, unit norm
    terms: TermCounts

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def nbytes(self) -> int:
        """About what it holds in memory (and close to what it takes in Redis)."""
        return (sum(len(t) for t in self.texts) + self.lines.nbytes + self.severities.nbytes + self.vectors.nbytes
                + self.terms.ids.nbytes + self.terms.counts.nbytes + self.terms.offsets.nbytes
                + self.terms.lengths.nbytes)

    @classmethod
    def build(cls, key: str, chunks: list[tuple[int, Chunk]], vectors: np.ndarray, terms: TermCounts
              ) -> IndexEntry:
        """``chunks``: (severity, chunk) in the order kept; ``vectors`` and ``terms`` in the same order."""
        lines = np.asarray([(c.line_start, c.line_end, c.index) for _, c in chunks], np.int32).reshape(-1, 3)
        return cls(key, tuple(c.text for _, c in chunks), lines,
                   np.asarray([s for s, _ in chunks], np.int8), vectors.astype(np.float16), terms)

    def chunks_for(self, document: Document) -> list[Chunk]:
        return [Chunk(document, text, int(start), int(end), int(index))
                for text, (start, end, index) in zip(self.texts, self.lines.tolist(), strict=True)]

    def to_bytes(self) -> bytes:
        header = json.dumps({"format": FORMAT, "key": self.key, "texts": self.texts,
                             "dim": int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0,
                             "nnz": len(self.terms.ids)}, ensure_ascii=False).encode("utf-8", "surrogatepass")
        arrays = (self.vectors.astype("<f2"), self.lines.astype("<i4"), self.severities.astype("i1"),
                  self.terms.lengths.astype("<i4"), self.terms.offsets.astype("<i8"),
                  self.terms.ids.astype("<u8"), self.terms.counts.astype("<u2"))
        return b"".join([struct.pack("<I", len(header)), header, *(a.tobytes() for a in arrays)])

    @classmethod
    def from_bytes(cls, raw: bytes) -> IndexEntry:
        try:
            (size,) = struct.unpack_from("<I", raw)
            header = json.loads(bytes(raw[4:4 + size]).decode("utf-8", "surrogatepass"))
            if header.get("format") != FORMAT:
                raise EntryFormatError(f"index entry format {header.get('format')}, expected {FORMAT}")
            n, dim, nnz = len(header["texts"]), int(header["dim"]), int(header["nnz"])
            view = memoryview(raw)[4 + size:]
            arrays = []
            for dtype, count in (("<f2", n * dim), ("<i4", n * 3), ("i1", n), ("<i4", n), ("<i8", n + 1),
                                 ("<u8", nnz), ("<u2", nnz)):
                width = np.dtype(dtype).itemsize * count
                if len(view) < width:
                    raise EntryFormatError("index entry is cut short")
                arrays.append(np.frombuffer(view[:width], dtype=dtype).copy())
                view = view[width:]
        except (struct.error, ValueError, KeyError, TypeError) as error:
            if isinstance(error, EntryFormatError):
                raise
            raise EntryFormatError(f"unreadable index entry: {error}") from None
        vectors, lines, severities, lengths, offsets, ids, counts = arrays
        return cls(header["key"], tuple(header["texts"]), lines.reshape(n, 3), severities,
                   vectors.reshape(n, dim), TermCounts(ids, counts, offsets, lengths))
