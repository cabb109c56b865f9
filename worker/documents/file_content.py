"""From a stream of file bytes to text: gunzip, refuse binary, and keep the head and tail of big files.

A file over the size cap keeps its first fifth and last four fifths of the cap (the end of a log is
usually where the incident is), cut on line boundaries. Every line is counted while the middle streams
past, so the tail's line numbers are those of the original file.
"""

from __future__ import annotations

import codecs
import itertools
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 8192
BINARY_MIME_PREFIXES = ("image/", "audio/", "video/", "font/")
BINARY_MIME_TYPES = frozenset({
    "application/pdf", "application/zip", "application/x-tar", "application/x-7z-compressed",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/msword",
    "application/x-executable", "application/x-sharedlib", "application/java-archive",
})


class UnreadableContent(Exception):
    """The bytes are not a text document; the message is the user-facing reason ("binary file")."""


def is_binary(sample: bytes) -> bool:
    """NUL bytes, or many control characters, in the first bytes of a file."""
    head = sample[:SNIFF_BYTES]
    if b"\x00" in head:
        return True
    if not head:
        return False
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return control / len(head) > 0.1


def is_binary_mimetype(mimetype: str) -> bool:
    mimetype = mimetype.lower()
    return mimetype.startswith(BINARY_MIME_PREFIXES) or mimetype in BINARY_MIME_TYPES


class Gunzip:
    """The decompressed bytes of gzip members as they stream in, up to ``max_output`` bytes (gzip bombs).

    ``ended_early`` is set once the input ran out in the middle of a member (a truncated ``.gz``): what was
    there has been yielded, and the caller can say the file ends early."""

    def __init__(self, chunks: Iterable[bytes], max_output: int) -> None:
        self.ended_early = False
        self._output = self._decompress(chunks, max_output)

    def __iter__(self) -> Gunzip:
        return self

    def __next__(self) -> bytes:
        return next(self._output)

    def _decompress(self, chunks: Iterable[bytes], max_output: int) -> Iterator[bytes]:
        decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
        produced = 0
        in_member = False  # input of the current member has been fed, and its end not seen yet
        try:
            for chunk in chunks:
                data = chunk
                while data:
                    in_member = True
                    out = decompressor.decompress(data, max(1, max_output - produced))
                    produced += len(out)
                    if out:
                        yield out
                    if produced >= max_output:
                        return
                    if decompressor.eof:  # next gzip member, if any
                        in_member = False
                        data = decompressor.unused_data
                        decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
                    else:
                        data = decompressor.unconsumed_tail
            tail = decompressor.flush()
            if tail:
                yield tail
            self.ended_early = in_member and not decompressor.eof
        except zlib.error:
            raise UnreadableContent("not a valid gzip file") from None


def gunzip(chunks: Iterable[bytes], max_output: int) -> Gunzip:
    """Decompress gzip members as they stream in; stops after ``max_output`` bytes (gzip bombs)."""
    return Gunzip(chunks, max_output)


_UTF16_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
               (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def wide_encoding(sample: bytes) -> str | None:
    """UTF-16 or UTF-32 by its byte order mark; or UTF-16 without one, when the first bytes look like mostly
    ASCII text with a NUL byte next to every character (Windows tools write logs so); else None."""
    for bom, encoding in _UTF16_BOMS:
        if sample.startswith(bom):
            return encoding
    sample = sample[:SNIFF_BYTES - SNIFF_BYTES % 2]
    if len(sample) < 16:
        return None
    even, odd = sample[0::2], sample[1::2]
    for zeros, other, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.6 * len(zeros) and other.count(0) <= 0.02 * len(other):
            return encoding
    return None


def as_utf8(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The stream re-encoded as UTF-8 when it is UTF-16 or UTF-32 (see ``wide_encoding``), else as it is.
    Decoding is incremental: a character split between chunks is not lost."""
    stream = iter(chunks)
    head = b""
    for chunk in stream:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    encoding = wide_encoding(head)
    if encoding is None:
        if head:
            yield head
        yield from stream
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for chunk in itertools.chain([head], stream):
        text = decoder.decode(chunk)
        if text:
            yield text.encode("utf-8")
    text = decoder.decode(b"", final=True)
    if text:
        yield text.encode("utf-8")


@dataclass(frozen=True)
class LinesRange:
    """A piece of a file: its text and the 1-based number of its first line in the original file."""

    text: str
    first_line: int

    @property
    def last_line(self) -> int:
        """The number of its last line (a newline at the very end ends that line, it starts no other)."""
        return self.first_line + self.text.count("\n") - (1 if self.text.endswith("\n") else 0)


@dataclass(frozen=True)
class CappedText:
    """What was kept of a file. ``tail`` is None when the whole file fit."""

    head: LinesRange
    tail: LinesRange | None
    total_bytes: int  # bytes read (all of the file unless ``scan_stopped``)
    kept_bytes: int
    scan_stopped: bool  # the file was longer than the scan limit; nothing after ``total_bytes`` was read
    ended_early: bool = False  # the file's data stops short (a truncated .gz): all that was there was read

    @property
    def complete(self) -> bool:
        return self.tail is None and not self.scan_stopped and not self.ended_early

    @property
    def last_line(self) -> int:
        return (self.tail or self.head).last_line

    @property
    def skipped_lines(self) -> tuple[int, int] | None:
        """First and last line numbers that were skipped between head and tail."""
        if self.tail is None or self.tail.first_line <= self.head.last_line + 1:
            return None
        return self.head.last_line + 1, self.tail.first_line - 1


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


@dataclass
class _Kept:
    """What ``read_capped`` holds while the file streams past: all of it while it fits the cap; once it
    does not, the head (fixed) and a sliding tail, counting the newlines that slide out between them."""

    head_cap: int
    tail_cap: int
    data: bytearray = field(default_factory=bytearray)  # the whole file so far, until it is over the cap
    head: bytes | None = None  # set once over the cap
    dropped_newlines: int = 0  # newlines between the end of ``head`` and the start of ``data`` (the tail)
    total: int = 0  # bytes read

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data.extend(chunk)
        if self.head is None and len(self.data) > self.head_cap + self.tail_cap:
            self.head = bytes(self.data[: self.head_cap])
            del self.data[: self.head_cap]
        if self.head is not None and len(self.data) > 2 * self.tail_cap:  # slide, amortised
            self.trim_tail()

    def trim_tail(self) -> None:
        cut = len(self.data) - self.tail_cap
        if cut > 0:
            self.dropped_newlines += self.data.count(b"\n", 0, cut)
            del self.data[:cut]


def read_capped(chunks: Iterable[bytes], *, max_bytes: int, max_scan_bytes: int) -> CappedText:
    """Read ``chunks`` keeping at most about ``max_bytes``; see the module docstring.

    Raises UnreadableContent when the first bytes look binary, or when there is no text at all.
    """
    head_cap = max(1, max_bytes // 5)
    kept = _Kept(head_cap=head_cap, tail_cap=max(1, max_bytes - head_cap))
    sniff = bytearray()
    stopped = False
    for chunk in chunks:
        if kept.total + len(chunk) > max_scan_bytes:
            chunk = chunk[: max_scan_bytes - kept.total]
            stopped = True
        if len(sniff) < SNIFF_BYTES:
            sniff.extend(chunk[: SNIFF_BYTES - len(sniff)])
            if len(sniff) >= SNIFF_BYTES and is_binary(bytes(sniff)):
                raise UnreadableContent("binary file")
        kept.add(chunk)
        if stopped:
            break
    if len(sniff) < SNIFF_BYTES and is_binary(bytes(sniff)):
        raise UnreadableContent("binary file")
    if kept.head is None:
        return _whole(kept, stopped)
    return _head_and_tail(kept, kept.head, stopped)


def _whole_lines(data: bytes) -> bytes:
    """``data`` without the line that reading stopped in the middle of (when it has another line)."""
    end = data.rfind(b"\n")
    return data[:end + 1] if end >= 0 else data


def _whole(kept: _Kept, stopped: bool) -> CappedText:
    data = _whole_lines(bytes(kept.data)) if stopped else bytes(kept.data)
    text = _decode(data)
    if not text.strip():
        raise UnreadableContent("empty file" if kept.total == 0 else "no text in it, only blank lines")
    return CappedText(LinesRange(text, 1), None, kept.total, len(data), stopped)


def _head_and_tail(kept: _Kept, head: bytes, stopped: bool) -> CappedText:
    """Whole lines only: the head ends at its last newline (a line cut by the cap is skipped, not shown
    half), the tail starts after its first one and, when reading stopped at the scan limit, ends at its
    last one."""
    kept.trim_tail()
    tail = kept.data
    head_end = head.rfind(b"\n")
    head_kept = head[:head_end] if head_end >= 0 else head
    newlines_before_tail = head.count(b"\n") + kept.dropped_newlines
    tail_start = tail.find(b"\n")
    if tail_start >= 0 and tail_start + 1 < len(tail):
        newlines_before_tail += 1 + tail.count(b"\n", 0, tail_start)
        tail_kept = bytes(tail[tail_start + 1:])
    else:
        tail_kept = bytes(tail)
    if stopped:
        tail_kept = _whole_lines(tail_kept)
    return CappedText(
        head=LinesRange(_decode(head_kept), 1),
        tail=LinesRange(_decode(tail_kept), newlines_before_tail + 1),
        total_bytes=kept.total,
        kept_bytes=len(head_kept) + len(tail_kept),
        scan_stopped=stopped,
    )


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def capped_note(name: str, capped: CappedText, max_bytes: int) -> str | None:
    """The note shown with the answer when part of ``name`` was not read, else None."""
    if capped.complete:
        return None
    parts = []
    if capped.tail is not None:
        parts.append(f"{name} is over the {human_bytes(max_bytes)} cap: read lines 1-{capped.head.last_line} and "
                     f"{capped.tail.first_line}-{capped.tail.last_line}")
        skipped = capped.skipped_lines
        if skipped:
            parts.append(f"skipped lines {skipped[0]}-{skipped[1]}")
    else:
        parts.append(f"read lines 1-{capped.head.last_line} of {name}")
    if capped.scan_stopped:
        parts.append(f"stopped reading after {human_bytes(capped.total_bytes)}; the rest of {name} was not read")
    if capped.ended_early:
        parts.append(f"{name} ends early (its compressed data is cut short): lines after {capped.last_line} "
                     f"are missing")
    return "; ".join(parts)
