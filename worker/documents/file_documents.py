"""A file's bytes as documents, the same way wherever the file comes from (a Slack upload, a path given
to the CLI): gunzip as it streams, refuse binary, tell a log from other text; read a log whole and reduce
it when it is big (log_stream.py), keep the head and tail of other big files (file_content.py); and say in
a note what was not read or what was folded."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace

from worker.documents.document import Document
from worker.documents.file_content import (
    GZIP_MAGIC,
    SNIFF_BYTES,
    CappedText,
    UnreadableContent,
    as_utf8,
    capped_note,
    gunzip,
    is_binary,
    read_capped,
)
from worker.documents.log_format import looks_like_log_text
from worker.documents.log_reduce import ReducedLog
from worker.documents.log_stream import read_log

LOG_SNIFF_BYTES = 20_000  # what looks_like_log_text reads


@dataclass(frozen=True)
class FileCaps:
    """How much of a file is read: ``max_file_bytes`` of a text file (head and tail past it),
    ``max_scan_bytes`` at most of any file, and logs over ``reduce_logs_above`` bytes reduced."""

    max_file_bytes: int
    max_scan_bytes: int
    reduce_logs_above: int

    @property
    def stamp(self) -> str:
        return f"{self.max_file_bytes}-{self.max_scan_bytes}-{self.reduce_logs_above}"


def read_file_stream(chunks: Iterator[bytes], *, gzipped: bool, named_as_log: bool, caps: FileCaps
                     ) -> CappedText | ReducedLog:
    """``gzipped``: the name or type says so; the gzip magic bytes say so too. UTF-16 and UTF-32 text is
    read as UTF-8 (``as_utf8``). A log (by its name, or because its first lines start with timestamps) is
    read whole, up to the scan cap. Raises UnreadableContent."""
    first = next(chunks, b"")
    stream: Iterator[bytes] = itertools.chain([first], chunks)
    unzipped = None
    if gzipped or first.startswith(GZIP_MAGIC):
        # one byte past the scan limit, so that read_capped sees there is more and says it stopped
        stream = unzipped = gunzip(stream, caps.max_scan_bytes + 1)
    stream = as_utf8(stream)
    head = bytearray()
    for chunk in stream:
        head.extend(chunk)
        if len(head) >= LOG_SNIFF_BYTES:
            break
    stream = itertools.chain([bytes(head)], stream)
    if is_binary(bytes(head[:SNIFF_BYTES])):
        raise UnreadableContent("binary file")
    content: CappedText | ReducedLog
    if named_as_log or looks_like_log_text(head.decode("utf-8", errors="replace")):
        content = read_log(stream, max_scan_bytes=caps.max_scan_bytes, reduce_above=caps.reduce_logs_above)
    else:
        content = read_capped(stream, max_bytes=caps.max_file_bytes, max_scan_bytes=caps.max_scan_bytes)
    if unzipped is not None and unzipped.ended_early:
        content = replace(content, ended_early=True)
    return content


def file_documents(content: CappedText | ReducedLog, *, doc_id: str, name: str, title: str, link: str | None,
                   named_as_log: bool, caps: FileCaps, visible_in: tuple[str, ...] = (),
                   restricted: bool = False) -> list[Document]:
    """One document; or two when only the head and tail were kept (the tail's ``doc_id`` names its first
    line); or, for a reduced log, its summary and one document per range of kept lines. A log (by its name,
    or because its lines start with timestamps) keeps its file name as title."""
    if isinstance(content, ReducedLog):
        return reduced_log_documents(content, doc_id=doc_id, name=name, link=link, caps=caps,
                                     visible_in=visible_in, restricted=restricted)
    kind = "log" if named_as_log or looks_like_log_text(content.head.text) else "file"
    title = name if kind == "log" else title
    note = capped_note(name, content, caps.max_file_bytes)
    documents = [Document(doc_id=doc_id, title=title, text=content.head.text, kind=kind, link=link,
                          first_line=1, notes=(note,) if note else (), visible_in=visible_in,
                          restricted=restricted)]
    if content.tail is not None:
        documents.append(Document(doc_id=f"{doc_id}@L{content.tail.first_line}", title=title,
                                  text=content.tail.text, kind=kind, link=link, first_line=content.tail.first_line,
                                  visible_in=visible_in, restricted=restricted))
    return documents


def reduced_log_documents(reduced: ReducedLog, *, doc_id: str, name: str, link: str | None, caps: FileCaps,
                          visible_in: tuple[str, ...], restricted: bool) -> list[Document]:
    summary = Document(doc_id=f"{doc_id}#summary", title=f"{name}: summary of {reduced.total_lines:,} lines",
                       text=reduced.summary, kind="text", link=link,
                       notes=(reduced.note(name, caps.max_scan_bytes),), visible_in=visible_in,
                       restricted=restricted)
    return [summary, *(Document(doc_id=f"{doc_id}@L{region.first_line}", title=name, text=region.text, kind="log",
                                link=link, first_line=region.first_line, visible_in=visible_in,
                                restricted=restricted) for region in reduced.regions)]
