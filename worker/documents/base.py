"""The source interface: each kind of document (runbooks, Slack files, bookmarks...) is one Source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from worker.deadline import Deadline
from worker.documents.document import Document


@dataclass(frozen=True)
class GatherRequest:
    """Where a question was asked, which decides what may be read to answer it."""

    channel: str
    user: str
    thread_ts: str | None = None
    mode: str = "ask"  # "ask" | "runbook" | "logs"
    file_ids: tuple[str, ...] = field(default=())  # files attached to the question or its thread
    context_channel: str | None = None  # assistant threads: the channel the user is viewing
    deadline: Deadline | None = None  # when gathering must stop (the job's time, or a stop request)

    @property
    def documents_channel(self) -> str:
        """The channel whose uploads, pins, bookmarks and links are read: the one the user is viewing when
        asking in an assistant thread, else the asking conversation. Whether its documents may be used
        in the answer is still decided for ``channel`` (permissions.py: rule 4 for an assistant's DM)."""
        return self.context_channel or self.channel

    @property
    def out_of_time(self) -> bool:
        return self.deadline is not None and self.deadline.passed


class Source(Protocol):
    """Gathers the documents of one kind for a request. Never raises for one bad document: it skips
    it and reports it through ``Document.notes`` or the log; raises only when the whole source fails.
    Stops reading more documents once ``request.out_of_time``, and passes ``request.deadline`` to fetches."""

    @property
    def name(self) -> str:
        """What the channel config calls this source: ``runbooks``, ``pins``, ``thread_files``…"""
        ...

    def gather(self, request: GatherRequest) -> list[Document]: ...
