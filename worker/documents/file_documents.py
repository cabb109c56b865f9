"""A file's bytes as documents, the same way wherever the file comes from (a Slack upload, a path given
to the CLI): gunzip as it streams, refuse binary, keep the head and tail of big files (file_content.py),
tell a log from other text, and say in a note what was not read."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

from worker.documents.document import Document
from worker.documents.file_content import GZIP_MAGIC, CappedText, as_utf8, capped_note, gunzip, read_capped
from worker.documents.log_format import looks_like_log_text


def read_file_stream(chunks: Iterator[bytes], *, gzipped: bool, max_file_bytes: int,
                     max_scan_bytes: int) -> CappedText:
    """``gzipped``: the name or type says so; the gzip magic bytes say so too. UTF-16 and UTF-32 text is
    read as UTF-8 (``as_utf8``). Raises UnreadableContent."""
    first = next(chunks, b"")
    stream: Iterator[bytes] = itertools.chain([first], chunks)
    unzipped = None
    if gzipped or first.startswith(GZIP_MAGIC):
        # one byte past the scan limit, so that read_capped sees there is more and says it stopped
        stream = unzipped = gunzip(stream, max_scan_bytes + 1)
    capped = read_capped(as_utf8(stream), max_bytes=max_file_bytes, max_scan_bytes=max_scan_bytes)
    if unzipped is not None and unzipped.ended_early:
        capped = replace(capped, ended_early=True)
    return capped


def file_documents(capped: CappedText, *, doc_id: str, name: str, title: str, link: str | None,
                   named_as_log: bool, max_file_bytes: int, visible_in: tuple[str, ...] = (),
                   restricted: bool = False) -> list[Document]:
    """One document, or two when only the head and tail were kept (the tail's ``doc_id`` names its first
    line). A log (by its name, or because its lines start with timestamps) keeps its file name as title."""
    kind = "log" if named_as_log or looks_like_log_text(capped.head.text) else "file"
    title = name if kind == "log" else title
    note = capped_note(name, capped, max_file_bytes)
    documents = [Document(doc_id=doc_id, title=title, text=capped.head.text, kind=kind, link=link,
                          first_line=1, notes=(note,) if note else (), visible_in=visible_in,
                          restricted=restricted)]
    if capped.tail is not None:
        documents.append(Document(doc_id=f"{doc_id}@L{capped.tail.first_line}", title=title,
                                  text=capped.tail.text, kind=kind, link=link, first_line=capped.tail.first_line,
                                  visible_in=visible_in, restricted=restricted))
    return documents
