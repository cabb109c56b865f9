"""Slack files as documents: files attached to the question or in its thread, and recent channel uploads.

Files are downloaded from ``url_private_download`` with the bot token (redirects must stay on the same
host, so the token never travels elsewhere). An HTML sign-in page instead of the file (a missing token or
``files:read`` scope) is an error reported for that file, never a document. ``.gz`` files are gunzipped
as they stream; binary files are skipped; logs are read whole and big ones reduced (log_stream.py), other
files over the size cap keep their head and tail (file_content.py), with a note. A file read before (same
id, size and dates) comes from the index instead (``FilesReadBefore``). Every file document is
``restricted`` to the conversations the file is shared in (``channels``, ``groups``, ``ims``, ``shares``).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from worker.deadline import Deadline
from worker.documents.base import GatherRequest
from worker.documents.document import Document
from worker.documents.file_content import CappedText, UnreadableContent, is_binary_mimetype
from worker.documents.file_documents import FileCaps, file_documents, read_file_stream
from worker.documents.http_fetch import FetchError, open_url, same_origin
from worker.documents.log_format import looks_like_log_name
from worker.documents.log_reduce import ReducedLog
from worker.documents.settings import GatheringSettings
from worker.documents.skipped import skipped_document
from worker.documents.slack_api import response_items

log = logging.getLogger(__name__)

MAX_THREAD_MESSAGES = 1000  # replies of one thread searched for files
REPLIES_PAGE = 200  # conversations.replies page size
SIGN_IN_PAGE_REASON = "Slack sent a sign-in page instead of the file (does the bot have the files:read scope?)"


def file_visibility(info: Mapping[str, Any]) -> tuple[str, ...]:
    """Every conversation the file is shared in."""
    ids: list[str] = []
    for key in ("channels", "groups", "ims"):
        ids.extend(str(c) for c in info.get(key) or ())
    for kind in ("public", "private"):
        ids.extend(str(c) for c in ((info.get("shares") or {}).get(kind) or {}))
    return tuple(dict.fromkeys(ids))


def is_log_file(info: Mapping[str, Any]) -> bool:
    return info.get("filetype") == "log" or looks_like_log_name(str(info.get("name") or ""))


def file_stamp(info: Mapping[str, Any], caps: FileCaps) -> str:
    """Names one version of a file read one way: its id, size and dates, and the caps it was read with."""
    return ":".join(str(info.get(key) or "") for key in ("id", "size", "created", "updated", "timestamp")) + \
        f":{caps.stamp}"


class FilesReadBefore(Protocol):
    """Files read before (the index keeps them, worker/index/files.py), by ``file_stamp``: a file asked
    about again, or shared again, is not downloaded again."""

    def documents(self, stamp: str) -> list[Document] | None:
        """The documents the file's read gave (their chunks in the index; text left out), or None."""
        ...

    def remember(self, stamp: str, documents: list[Document]) -> None: ...


class SlackFileReader:
    """Turns one Slack file object into documents (two when only its head and tail were kept)."""

    def __init__(self, client: WebClient, *, max_file_bytes: int, max_scan_bytes: int,
                 timeout_s: float, reduce_logs_above: int = 1_000_000,
                 read_before: FilesReadBefore | None = None) -> None:
        self.client = client
        self.caps = FileCaps(max_file_bytes, max_scan_bytes, reduce_logs_above)
        self.timeout_s = timeout_s
        self.read_before = read_before

    @classmethod
    def from_settings(cls, client: WebClient, settings: GatheringSettings,
                      read_before: FilesReadBefore | None = None) -> SlackFileReader:
        return cls(client, max_file_bytes=settings.max_file_bytes, max_scan_bytes=settings.max_scan_bytes,
                   timeout_s=settings.download_timeout_s, reduce_logs_above=settings.reduce_logs_above,
                   read_before=read_before)

    def read_id(self, file_id: str, seen_in: str, *, deadline: Deadline | None = None) -> list[Document]:
        """``files.info`` then :meth:`read`; a file Slack will not describe is skipped with a note that
        names only its id and is shown only in ``seen_in``, the conversation the id came from."""
        try:
            info = self.client.files_info(file=file_id)["file"]
        except SlackApiError as exc:
            error = exc.response.get("error", "error")
            log.warning("files.info %s failed: %s", file_id, error)
            return [skipped_document(f"slack-file:{file_id}", f"file {file_id}", f"Slack said {error}",
                                     visible_in=(seen_in,), restricted=True)]
        return self.read(info, deadline=deadline)

    def read(self, info: Mapping[str, Any], *, shared_in: tuple[str, ...] = (),
             deadline: Deadline | None = None) -> list[Document]:
        """The file's documents; ``shared_in``: conversations known to hold it beyond what ``info`` lists
        (a file pinned in a channel is shared there); ``deadline``: the question's, which cuts the download
        off sooner than the download timeout when it is nearer."""
        file_id = str(info["id"])
        name = str(info.get("name") or info.get("title") or file_id)
        visible_in = tuple(dict.fromkeys(file_visibility(info) + shared_in))
        doc_id = f"slack-file:{file_id}"

        def skip(reason: str) -> list[Document]:
            return [skipped_document(doc_id, name, reason, visible_in=visible_in, restricted=True)]

        if info.get("mode") in ("external", "tombstone", "hidden_by_limit") or info.get("is_external"):
            return skip("not a file stored in Slack")
        mimetype = str(info.get("mimetype") or "")
        gzipped = name.lower().endswith(".gz") or mimetype in ("application/gzip", "application/x-gzip")
        if is_binary_mimetype(mimetype) and not gzipped:
            return skip("binary file")
        if info.get("size") == 0:
            return skip("empty file")
        url = info.get("url_private_download") or info.get("url_private")
        if not url:
            return skip("Slack gave no download link")
        stamp = file_stamp(info, self.caps)
        if self.read_before is not None and (known := self.read_before.documents(stamp)) is not None:
            return [replace(d, visible_in=visible_in, restricted=True, link=info.get("permalink")) for d in known]
        try:
            content = self._download(str(url), info, gzipped, deadline)
        except FetchError as exc:
            log.warning("download of %s (%s) failed: %s", name, file_id, exc)
            return skip(f"download failed: {exc}")
        except UnreadableContent as exc:
            if str(exc) == SIGN_IN_PAGE_REASON:
                log.error("download of %s (%s): %s", name, file_id, exc)
            else:
                log.info("skipping %s (%s): %s", name, file_id, exc)
            return skip(str(exc))
        documents = file_documents(content, doc_id=doc_id, name=name, title=str(info.get("title") or name),
                                   link=info.get("permalink"), named_as_log=is_log_file(info), caps=self.caps,
                                   visible_in=visible_in, restricted=True)
        if self.read_before is not None:
            self.read_before.remember(stamp, documents)
        return documents

    def _download(self, url: str, info: Mapping[str, Any], gzipped: bool, deadline: Deadline | None
                  ) -> CappedText | ReducedLog:
        headers = {"Authorization": f"Bearer {self.client.token}"}
        with open_url(url, timeout_s=self.timeout_s, url_allowed=same_origin(url), headers=headers,
                      deadline=deadline) as resp:
            chunks = resp.chunks()
            first = next(chunks, b"")
            if resp.content_type == "text/html" and info.get("filetype") != "html" and (
                b"<html" in first[:1024].lower() or b"<!doctype html" in first[:1024].lower()
            ):
                raise UnreadableContent(SIGN_IN_PAGE_REASON)
            return read_file_stream(itertools.chain([first], chunks), gzipped=gzipped,
                                    named_as_log=is_log_file(info), caps=self.caps)


class ThreadFiles:
    """Files attached to the question (``request.file_ids``) and files posted in its thread: at most
    ``max_files`` of them, the question's own first, then the thread's newest; a note says how many more
    there were. The thread is read page by page, up to ``MAX_THREAD_MESSAGES`` replies (a note says so when
    it has more)."""

    name = "thread_files"

    def __init__(self, reader: SlackFileReader, *, max_files: int = GatheringSettings.max_thread_files) -> None:
        self.reader = reader
        self.max_files = max_files

    def _thread_messages(self, request: GatherRequest) -> tuple[list[dict[str, Any]], bool]:
        """The thread's messages, oldest first, and whether it has more than were read."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(messages) < MAX_THREAD_MESSAGES:
            page = self.reader.client.conversations_replies(
                channel=request.channel, ts=str(request.thread_ts), cursor=cursor,
                limit=min(REPLIES_PAGE, MAX_THREAD_MESSAGES - len(messages)))
            messages.extend(response_items(page, "messages"))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return messages, False
        return messages, True

    def gather(self, request: GatherRequest) -> list[Document]:
        ids = list(dict.fromkeys(request.file_ids))
        truncated = False
        if request.thread_ts:
            messages, truncated = self._thread_messages(request)
            in_thread = [str(f["id"]) for message in messages for f in message.get("files", [])
                         if isinstance(f, dict) and "id" in f]
            ids = list(dict.fromkeys(ids + in_thread[::-1]))  # the thread's newest first
        documents = []
        for file_id in ids[: self.max_files]:
            if request.out_of_time:
                break
            documents += self.reader.read_id(file_id, request.channel, deadline=request.deadline)
        left_out = []  # (what, why): shown as "skipped WHAT: WHY"
        if len(ids) > self.max_files:
            left_out.append((f"{len(ids) - self.max_files} more files in this thread",
                             f"{self.max_files} files are read per question (those asked about first, then "
                             f"the thread's newest)"))
        if truncated:
            left_out.append((f"the replies after the first {MAX_THREAD_MESSAGES} of this thread",
                             "not searched for files"))
        documents += [skipped_document(f"thread-files:{request.channel}:{request.thread_ts}:{i}", what, why,
                                       visible_in=(request.channel,), restricted=True)
                      for i, (what, why) in enumerate(left_out)]
        return documents


class ChannelFiles:
    """Files uploaded to the channel within the recent window, newest first; ``logs_only`` for ``/logs``."""

    def __init__(self, reader: SlackFileReader, *, window_s: int, max_files: int, logs_only: bool = False) -> None:
        self.reader = reader
        self.window_s = window_s
        self.max_files = max_files
        self.logs_only = logs_only
        self.name = "channel_logs" if logs_only else "channel_files"

    def recent_files(self, channel: str) -> list[dict[str, Any]]:
        since = int(time.time()) - self.window_s
        listing = self.reader.client.files_list(channel=channel, ts_from=str(since), count=100)
        files = [f for f in response_items(listing, "files")
                 if int(f.get("created") or 0) >= since and (not self.logs_only or is_log_file(f))]
        files.sort(key=lambda f: int(f.get("created") or 0), reverse=True)
        return files[: self.max_files]

    def gather(self, request: GatherRequest) -> list[Document]:
        if self.max_files == 0:
            return []
        documents = []
        channel = request.documents_channel
        for info in self.recent_files(channel):
            if request.out_of_time:
                break
            if channel not in file_visibility(info):
                continue  # listed for the channel but not shared there: leave it to the permission rule
            documents.extend(self.reader.read(info, deadline=request.deadline))
        return documents
