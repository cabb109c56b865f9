"""Packing lines into chunks: whole lines per chunk while the chunk stays within the token budget.

Plain documents and logs share this packer. A plain line is a ``Line`` whose first and last line
numbers are the same; a log line that folds a run of repeats (log_chunking.py) spans several.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from worker.documents.document import Chunk, Document, TokenCounter


@dataclass(frozen=True)
class Line:
    first: int  # 1-based line number in the original file
    last: int  # last original line this one stands for (== first unless repeats were folded into it)
    text: str  # as shown in chunks


def file_lines(text: str) -> list[str]:
    """The lines of a file's text. A final newline ends the last line; it does not start another."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def plain_lines(document: Document) -> list[Line]:
    return [Line(number, number, text) for number, text in enumerate(file_lines(document.text),
                                                                         start=document.first_line)]


def pack_lines(document: Document, lines: Sequence[Line], max_tokens: int, count_tokens: TokenCounter) -> list[Chunk]:
    """Greedy packing: each chunk holds whole lines while it stays within ``max_tokens`` (a newline counts
    as one token); a line too long alone is cut into pieces, one chunk each. Blank-only chunks are dropped.
    ``Chunk.index`` is the chunk's position among those returned."""
    chunks: list[Chunk] = []
    current: list[Line] = []
    tokens = 0

    def add(text: str, first: int, last: int) -> None:
        if text.strip():
            chunks.append(Chunk(document, text, first, last, index=len(chunks)))

    def flush() -> None:
        nonlocal current, tokens
        if current:
            add("\n".join(line.text for line in current), current[0].first, current[-1].last)
        current, tokens = [], 0

    for line in lines:
        cost = count_tokens(line.text) + 1  # +1 for the newline that joins lines
        if cost > max_tokens:
            flush()
            for piece in split_long_line(line.text, max_tokens, count_tokens):
                add(piece, line.first, line.last)
            continue
        if current and tokens + cost > max_tokens:
            flush()
        current.append(line)
        tokens += cost
    flush()
    return chunks


def split_long_line(line: str, max_tokens: int, count_tokens: TokenCounter) -> Iterator[str]:
    """Cut one line that alone exceeds ``max_tokens`` into pieces that fit, on word boundaries."""
    piece: list[str] = []
    for word in line.split(" "):
        candidate = " ".join([*piece, word])
        if piece and count_tokens(candidate) > max_tokens:
            yield " ".join(piece)
            piece = [word]
        else:
            piece.append(word)
        # a single word longer than the limit (a base64 blob, a minified line): cut by characters
        while count_tokens(" ".join(piece)) > max_tokens and len(piece) == 1 and len(piece[0]) > 1:
            word = piece[0]
            cut = max(1, len(word) // 2)
            while cut > 1 and count_tokens(word[:cut]) > max_tokens:
                cut //= 2
            yield word[:cut]
            piece = [word[cut:]]
    if piece and any(piece):
        yield " ".join(piece)
