"""Gather the candidate documents for a request from the sources that apply to it.

Which sources: ``mode == "runbook"``: the runbook folder; ``"logs"``: the channel's recent log uploads
and the files attached to the question or its thread; ``"ask"``: the sources the channel config lists for
the channel (every source when there is no config). Without a Slack client (the CLI) only runbooks exist.

Then, for every document, in this order:
1. permissions (permissions.py): documents the people reading the answer may not see are dropped,
   silently (a note would leak their names);
2. secrets are redacted (redact.py) from the text and title, once per distinct text and within a time
   budget (lines not checked in time are withheld, with a note);
3. placeholders of documents that could not be read are dropped, their notes kept.

Gathering stops at ``request.deadline`` (sources stop reading, fetches are cut off) with a note: the
question is answered from what was read in time.

One bad document never fails the request: it becomes a note ("skipped build.bin: binary file"). A source
that fails as a whole (a Slack API error) becomes a note too. Only when nothing could be read and
something failed does :meth:`DocumentGatherer.gather` raise DocumentUnreadableError. An empty result with
no failure is returned as it is (the caller decides, e.g. NoDocumentsError).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from jobs.channel_config import ChannelConfig, ChannelConfigFile
from worker.documents.base import GatherRequest, Source
from worker.documents.bookmarks import ChannelBookmarks
from worker.documents.document import Document
from worker.documents.links import ChannelLinks
from worker.documents.pages import PageFetcher
from worker.documents.permissions import ConversationDirectory, visible_documents
from worker.documents.pins import ChannelPins
from worker.documents.redact import DocumentRedactor
from worker.documents.runbooks import RunbookFolder
from worker.documents.settings import GatheringSettings
from worker.documents.skipped import is_skipped
from worker.documents.slack_files import ChannelFiles, FilesReadBefore, SlackFileReader, ThreadFiles
from worker.errors import DocumentUnreadableError

log = logging.getLogger(__name__)

MODES = ("ask", "runbook", "logs")
OUT_OF_TIME = "ran out of time reading documents: answered from those read in time"
OUT_OF_TIME_STOPPING = "the worker is restarting: answered from the documents read so far"
LOG_MODE_SOURCES = ("channel_logs", "thread_files")
SOURCE_LABELS = {"channel_logs": "recent log uploads", "channel_files": "recent uploads",
                 "thread_files": "attached files", "bookmarks": "bookmarks", "pins": "pinned items",
                 "links": "linked pages", "runbooks": "runbooks"}


@dataclass(frozen=True)
class Gathered:
    documents: list[Document]
    notes: list[str] = field(default_factory=list)  # shown to the user with the answer


class DocumentGatherer:
    """``sources``: every source there is, by its ``name``; ``channel_config``: which apply in which
    channel for "ask" (None: all of them); ``client``: for the permission lookups (None: only
    unrestricted documents and documents shared in the asking conversation itself pass); ``redactor``:
    takes the secrets out of every document (one per gatherer: it remembers texts it redacted)."""

    def __init__(self, sources: Sequence[Source], *,
                 channel_config: ChannelConfig | ChannelConfigFile | None = None,
                 client: WebClient | None = None, redactor: DocumentRedactor | None = None) -> None:
        self.sources = list(sources)
        self.channel_config = channel_config
        self.client = client
        self.redactor = redactor or DocumentRedactor()

    @classmethod
    def from_settings(cls, settings: GatheringSettings, client: WebClient | None,
                      read_before: FilesReadBefore | None = None,
                      redactor: DocumentRedactor | None = None) -> DocumentGatherer:
        """Every source the settings allow. Raises when the channel config is missing or malformed.
        ``read_before``: Slack files read before (the index), not downloaded again; ``redactor``: one
        shared with the index's ingestion (the same cache, the same redacted documents)."""
        sources: list[Source] = []
        if settings.runbook_dir is not None:
            sources.append(RunbookFolder(settings.runbook_dir, base_url=settings.runbook_base_url,
                                         max_bytes=settings.max_runbook_bytes))
        if client is not None:
            reader = SlackFileReader.from_settings(client, settings, read_before)
            fetcher = PageFetcher(settings.link_allowlist, timeout_s=settings.fetch_timeout_s,
                                  max_bytes=settings.max_page_bytes, max_redirects=settings.max_redirects)
            sources += [
                ThreadFiles(reader, max_files=settings.max_thread_files),
                ChannelFiles(reader, window_s=settings.recent_files_window_s,
                             max_files=settings.max_channel_files),
                ChannelFiles(reader, window_s=settings.recent_files_window_s,
                             max_files=settings.max_channel_files, logs_only=True),
                ChannelBookmarks(client, fetcher),
                ChannelPins(client, reader),
                ChannelLinks(client, fetcher, recent_messages=settings.recent_messages,
                             max_links=settings.max_links, window_s=settings.recent_files_window_s),
            ]
        config = ChannelConfigFile(settings.channel_config_path) if settings.channel_config_path else None
        return cls(sources, channel_config=config, client=client,
                   redactor=redactor or DocumentRedactor(budget_s=settings.redact_budget_s))

    def sources_for(self, request: GatherRequest, directory: ConversationDirectory) -> list[Source]:
        if request.mode not in MODES:
            raise ValueError(f"unknown gathering mode {request.mode!r}")
        if request.mode == "runbook":
            names: Sequence[str] = ("runbooks",)
        elif request.mode == "logs":
            names = LOG_MODE_SOURCES
        elif self.channel_config is None:
            return [s for s in self.sources if s.name != "channel_logs"]
        else:
            config = self.channel_config
            if isinstance(config, ChannelConfigFile):
                config = config.current()
            names = config.sources_for(request.documents_channel, directory.name)
        return [s for s in self.sources if s.name in names]

    def gather(self, request: GatherRequest) -> Gathered:
        directory = ConversationDirectory(self.client)
        found: list[Document] = []
        failures: list[str] = []
        for source in self.sources_for(request, directory):
            if request.out_of_time:
                break
            try:
                found.extend(source.gather(request))
            except SlackApiError as exc:
                error = exc.response.get("error", "error")
                log.warning("source %s failed for %s: %s", source.name, request.channel, error)
                failures.append(f"could not read {SOURCE_LABELS.get(source.name, source.name)}: Slack said {error}")
            except OSError as exc:
                log.warning("source %s failed for %s: %s", source.name, request.channel, exc)
                failures.append(f"could not read {SOURCE_LABELS.get(source.name, source.name)}")
        documents: dict[str, Document] = {}
        notes: list[str] = []
        skipped = 0
        for document in visible_documents(found, request, directory):
            if document.doc_id in documents:
                continue
            if is_skipped(document):
                notes.extend(self.redactor.text(note).text for note in document.notes)
                skipped += 1
                continue
            redacted = self.redactor.document(document)
            notes.extend(self.redactor.text(note).text for note in redacted.notes)
            documents[document.doc_id] = redacted
        if request.out_of_time:
            failures.append(OUT_OF_TIME_STOPPING if request.deadline and request.deadline.stopping else OUT_OF_TIME)
        notes = list(dict.fromkeys(notes + failures))
        if not documents and (skipped or failures):
            raise DocumentUnreadableError("Could not read any document: " + "; ".join(notes))
        log.info("gathered %d documents (%d skipped) for a %s question in %s", len(documents), skipped,
                 request.mode, request.channel)
        return Gathered(list(documents.values()), notes)
