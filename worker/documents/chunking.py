"""Split documents into chunks of at most N encoder tokens, keeping exact line ranges.

Logs (``kind == "log"``) go through log_chunking.py: repeated lines folded, incidents first.
"""

from __future__ import annotations

from collections.abc import Callable

from worker.documents.log_chunking import chunk_log
from worker.documents.long_lines import split_long_line
from worker.engine.base import Chunk, Document

TokenCounter = Callable[[str], int]


def chunk_document(document: Document, max_tokens: int, count_tokens: TokenCounter) -> list[Chunk]:
    """Greedy line packing: each chunk holds whole lines while it stays within ``max_tokens``.

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
        if lines and tokens + line_tokens > max_tokens:
            flush(number - 1)
            start = number
        if not lines:
            start = number
        lines.append(line)
        tokens += line_tokens
    if lines:
        flush(document.first_line + len(all_lines) - 1)
    return chunks


def chunk_documents(
    documents: list[Document], max_tokens: int, count_tokens: TokenCounter
) -> list[Chunk]:
    """Chunk every document; the entry point the pipeline calls.

    Order: the incident chunks of every log (stack traces, then errors, then warnings; documents in the
    order given), then every other chunk, document by document, in file order.
    """
    if max_tokens < 2:
        raise ValueError("max_tokens must be at least 2")
    incidents: list[tuple[int, int, int, Chunk]] = []
    others: list[Chunk] = []
    for position, document in enumerate(documents):
        if document.kind == "log":
            log_chunks = chunk_log(document, max_tokens, count_tokens)
            incidents.extend((-severity, position, chunk.index, chunk) for severity, chunk in log_chunks.incidents)
            others.extend(log_chunks.others)
        else:
            others.extend(chunk_document(document, max_tokens, count_tokens))
    incidents.sort(key=lambda item: item[:3])
    return [item[3] for item in incidents] + others


def line_citation(chunk: Chunk) -> str:
    """``app.log:212-240`` (or ``app.log:7`` for one line): the document title and the chunk's lines."""
    lines = str(chunk.line_start) if chunk.line_start == chunk.line_end else f"{chunk.line_start}-{chunk.line_end}"
    return f"{chunk.document.title}:{lines}"
