"""Split documents into chunks of at most N encoder tokens, keeping exact line ranges.

Plain documents are packed line by line (packing.py); logs (``kind == "log"``) go through
log_chunking.py: repeated lines folded, incidents first.
"""

from __future__ import annotations

from collections.abc import Sequence

from worker.documents.document import Chunk, Document, DocumentChunks, TokenCounter
from worker.documents.log_chunking import chunk_log
from worker.documents.packing import pack_lines, plain_lines


def chunk_document(document: Document, max_tokens: int, count_tokens: TokenCounter) -> list[Chunk]:
    """Whole lines per chunk within ``max_tokens``; line numbers are those of the original file
    (``document.first_line`` is the first); blank-only chunks are dropped."""
    return pack_lines(document, plain_lines(document), max_tokens, count_tokens)


def chunk_one(document: Document, max_tokens: int, count_tokens: TokenCounter) -> DocumentChunks:
    """One document's chunks: a log's incidents with their severity, and the rest in file order (all of a
    non-log document). What the pipeline caches per document; ``order_chunks`` merges them."""
    if max_tokens < 2:
        raise ValueError("max_tokens must be at least 2")
    if document.kind == "log":
        return chunk_log(document, max_tokens, count_tokens)
    return DocumentChunks([], chunk_document(document, max_tokens, count_tokens))


def order_chunks(per_document: Sequence[DocumentChunks]) -> list[Chunk]:
    """The incident chunks of every log (stack traces, then errors, then warnings; documents in the order
    given), then every other chunk, document by document, in file order."""
    incidents = sorted(
        ((-severity, position, chunk.index), chunk)
        for position, chunks in enumerate(per_document) for severity, chunk in chunks.incidents
    )
    return [chunk for _, chunk in incidents] + [chunk for chunks in per_document for chunk in chunks.others]


def chunk_documents(documents: list[Document], max_tokens: int, count_tokens: TokenCounter) -> list[Chunk]:
    """Chunk every document, incidents first (see ``order_chunks``)."""
    return order_chunks([chunk_one(document, max_tokens, count_tokens) for document in documents])
