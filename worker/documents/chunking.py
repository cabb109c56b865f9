"""Split documents into chunks of at most N encoder tokens, keeping exact line ranges.

Logs (``kind == "log"``) go through log_chunking.py: repeated lines folded, incidents first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from worker.documents.log_chunking import DocumentChunks, chunk_log
from worker.documents.long_lines import split_long_line
from worker.documents.runbook_lookup import markdown_headings
from worker.engine.base import Chunk, Document

TokenCounter = Callable[[str], int]


def chunk_document(document: Document, max_tokens: int, count_tokens: TokenCounter) -> list[Chunk]:
    """Greedy line packing: each chunk holds whole lines while it stays within ``max_tokens``, and a
    markdown heading always starts a new chunk, so that a chunk lies within one section.

    Line numbers are 1-based and relative to the original file (``document.first_line``).
    Blank-only chunks are dropped.
    """
    chunks: list[Chunk] = []
    lines: list[str] = []
    start = document.first_line
    tokens = 0

    def flush(end_line: int) -> None:
        nonlocal lines, tokens
        text = "\n".join(lines)
        if text.strip():
            chunks.append(Chunk(document, text, start, end_line, index=len(chunks)))
        lines, tokens = [], 0

    all_lines = document.text.split("\n")
    if len(all_lines) > 1 and all_lines[-1] == "":
        all_lines.pop()  # the final newline ends the last line; it does not start another
    section_starts = {index for index, _, _ in markdown_headings(all_lines)}
    for offset, line in enumerate(all_lines):
        number = document.first_line + offset
        line_tokens = count_tokens(line) + 1  # +1 for the newline that joins lines
        if line_tokens > max_tokens:
            if lines:
                flush(number - 1)
            for piece in split_long_line(line, max_tokens, count_tokens):
                start = number
                lines, tokens = [piece], 0
                flush(number)
            start = number + 1
            continue
        if lines and (tokens + line_tokens > max_tokens or offset in section_starts):
            flush(number - 1)
            start = number
        if not lines:
            start = number
        lines.append(line)
        tokens += line_tokens
    if lines:
        flush(document.first_line + len(all_lines) - 1)
    return chunks


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


def line_citation(chunk: Chunk) -> str:
    """``app.log:212-240`` (or ``app.log:7`` for one line): the document title and the chunk's lines."""
    lines = str(chunk.line_start) if chunk.line_start == chunk.line_end else f"{chunk.line_start}-{chunk.line_end}"
    return f"{chunk.document.title}:{lines}"
