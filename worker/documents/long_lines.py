"""Cut one line that alone exceeds the token budget into pieces that fit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

TokenCounter = Callable[[str], int]


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
