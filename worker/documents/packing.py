"""Packing lines into chunks: whole lines per chunk while the chunk stays within the token budget.

Plain documents and logs share this packer. A plain line is a ``Line`` whose first and last line
numbers are the same; a log line that folds a run of repeats (log_chunking.py) spans several.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from worker.documents.document import Chunk, Document, TokenCounter

CHARS_PER_TOKEN_AT_MOST = 16  # a line longer than this many characters per token of budget cannot fit


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


def pack_lines(document: Document, lines: Sequence[Line], max_tokens: int, count_tokens: TokenCounter,
               breaks: Collection[int] = ()) -> list[Chunk]:
    """Greedy packing: each chunk holds whole lines while it stays within ``max_tokens`` (a newline counts
    as one token); a line too long alone is cut into pieces, one chunk each; ``lines[i]`` for ``i`` in
    ``breaks`` (a section's heading) starts a new chunk. Blank-only chunks are dropped. ``Chunk.index`` is
    the chunk's position among those returned."""
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

    for position, line in enumerate(lines):
        if position in breaks:
            flush()
        # a line far longer than a chunk is not counted whole (seconds for megabytes): it is split anyway
        too_long = len(line.text) > max_tokens * CHARS_PER_TOKEN_AT_MOST
        cost = max_tokens + 1 if too_long else count_tokens(line.text) + 1  # +1: the newline joining lines
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
    """Cut one line that alone exceeds ``max_tokens`` into pieces that fit, on word boundaries where the
    line has spaces (a word longer than a piece is cut by characters).

    Linear in the line: a piece is guessed from the characters per token of the piece before, cut back to a
    space, and counted; one that does not fit shrinks by the ratio it overshot (by a tenth at least) and is
    counted again. So every character is counted a bounded number of times, never as part of a growing
    prefix (which took minutes on a 5 MB one-line file)."""
    position = 0
    chars_per_token = 4.0
    while position < len(line):
        size = max(1, int(max_tokens * chars_per_token * 0.9))  # a little under: most pieces fit at once
        while True:
            end = min(len(line), position + size)
            if end < len(line):
                space = line.rfind(" ", position + 1, end + 1)
                end = space if space > position else end
            piece = line[position:end]
            tokens = count_tokens(piece)
            if tokens <= max_tokens or end - position <= 1:
                break
            size = max(1, min(int((end - position) * max_tokens / tokens), int((end - position) * 0.9)))
        if piece.strip():
            yield piece
        chars_per_token = max(0.5, len(piece) / max(1, tokens))
        position = end + 1 if line.startswith(" ", end) else end
