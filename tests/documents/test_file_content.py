from __future__ import annotations

import gzip

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from worker.documents.file_content import UnreadableContent, as_utf8, capped_note, gunzip, read_capped, wide_encoding


def _chunks(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_small_file_is_read_whole() -> None:
    capped = read_capped(_chunks(b"a\nb\nc\n"), max_bytes=100, max_scan_bytes=1000)
    assert capped.complete and capped.head.text == "a\nb\nc\n" and capped.tail is None
    assert capped_note("x.log", capped, 100) is None


def test_big_file_keeps_head_and_tail_with_exact_line_numbers_and_a_note() -> None:
    lines = [f"line {n:04d}" for n in range(1, 1001)]  # 10 bytes + newline each
    capped = read_capped(_chunks(("\n".join(lines) + "\n").encode(), 64), max_bytes=1100, max_scan_bytes=10**6)
    assert capped.tail is not None
    head = capped.head.text.split("\n")
    assert head == lines[: len(head)]
    tail = capped.tail.text.rstrip("\n").split("\n")
    first = capped.tail.first_line
    assert tail == lines[first - 1:]
    assert capped.kept_bytes <= 1100
    skipped = capped.skipped_lines
    assert skipped == (len(head) + 1, first - 1)
    note = capped_note("app.log", capped, 1100)
    assert note is not None and f"skipped lines {skipped[0]}-{skipped[1]}" in note and "app.log" in note


def test_scan_limit_stops_reading_and_says_so() -> None:
    data = b"".join(f"{n}\n".encode() for n in range(100_000))
    capped = read_capped(_chunks(data, 4096), max_bytes=1000, max_scan_bytes=20_000)
    assert capped.scan_stopped and capped.total_bytes == 20_000
    assert "stopped reading" in (capped_note("big.log", capped, 1000) or "")


def test_binary_content_is_refused() -> None:
    with pytest.raises(UnreadableContent, match="binary"):
        read_capped([b"\x7fELF\x00\x00\x01" + bytes(range(256))], max_bytes=100_000, max_scan_bytes=10**6)


def test_gunzip_streams_multi_member_files() -> None:
    data = gzip.compress(b"first member\n") + gzip.compress(b"second member\n")
    assert b"".join(gunzip(_chunks(data, 5), max_output=10**6)) == b"first member\nsecond member\n"


def test_gunzip_stops_at_the_output_cap() -> None:
    bomb = gzip.compress(b"0" * 5_000_000)
    assert sum(len(p) for p in gunzip([bomb], max_output=100_000)) == 100_000


def test_corrupt_gzip_is_unreadable() -> None:
    with pytest.raises(UnreadableContent):
        list(gunzip([b"\x1f\x8b\x08\x00garbage" * 10], max_output=1000))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.text(alphabet="abc xyz-:", max_size=40), min_size=1, max_size=300),
    st.integers(min_value=20, max_value=3000),
    st.integers(min_value=1, max_value=97),
)
def test_head_and_tail_are_exact_lines_of_the_original(lines: list[str], cap: int, chunk: int) -> None:
    data = ("\n".join(lines)).encode()
    assume(data.strip())  # a file with no text is refused (its own test)
    capped = read_capped(_chunks(data, chunk), max_bytes=cap, max_scan_bytes=10**7)
    if capped.tail is None:
        assert capped.head.text == data.decode()
        return
    head = capped.head.text.split("\n")
    tail = capped.tail.text.split("\n")
    first = capped.tail.first_line
    # the head is whole lines from line 1 (its last line may be cut only when no newline fit at all)
    assert head[:-1] == lines[: len(head) - 1]
    assert lines[len(head) - 1].startswith(head[-1])
    # the tail ends with the file; its lines are the original ones, numbered exactly
    assert tail[1:] == lines[first:]
    assert lines[first - 1].endswith(tail[0])
    assert capped.kept_bytes <= cap


@pytest.mark.parametrize(("data", "reason"), [(b"", "empty file"), (b"\n \r\n\t\n", "only blank lines")])
def test_a_file_without_text_is_unreadable_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableContent, match=reason):
        read_capped(_chunks(data), max_bytes=100, max_scan_bytes=1000)


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=1, max_size=400).filter(lambda t: "\x00" not in t),
       st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32"]), st.integers(min_value=1, max_value=13))
def test_wide_text_is_re_encoded_as_utf8_whatever_the_chunking(text: str, encoding: str, chunk: int) -> None:
    data = text.encode(encoding)
    if encoding in ("utf-16", "utf-32") or wide_encoding(data) == encoding:  # BOM-less: only mostly-ASCII text
        assert b"".join(as_utf8(_chunks(data, chunk))).decode("utf-8").removeprefix("\ufeff") == text


def test_binary_with_nul_bytes_is_not_taken_for_utf16() -> None:
    assert wide_encoding(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4) is None
    assert wide_encoding(b"plain ascii text, sixteen+ bytes") is None
    assert wide_encoding("2024-05-14 INFO started\r\n".encode("utf-16-le")) == "utf-16-le"
