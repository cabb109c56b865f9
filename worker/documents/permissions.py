"""Who may see a document: the one rule every gathered document passes before it becomes a candidate.

A question is asked in conversation Q by user U, and the answer is posted in Q. A document is a
candidate only if everyone who can read Q could read the document:

1. not restricted (runbooks, pages from the allowlisted wiki): yes;
2. restricted and shared in Q itself (``Q in visible_in``): yes;
3. restricted and shared in some *public* channel, and Q is not shared with another organisation
   (Slack Connect): yes (every workspace member can read those; people from outside cannot);
4. Q is U's direct message with the bot and U is a member of a conversation the document is shared in:
   yes (only U reads the answer);
5. otherwise no. In particular a document shared only in a private channel, a group DM or a DM is never
   a candidate for a question asked in a public channel or in any other private conversation, and a
   restricted document shared nowhere (``visible_in == ()``) is a candidate nowhere.

Conversation types and members come from ``conversations.info`` / ``conversations.members``, looked up
once per question (a :class:`ConversationDirectory` lives for one gathering). When a lookup fails the
conversation counts as private and its member list as empty: failing closed.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from worker.documents.base import GatherRequest
from worker.documents.document import Document

log = logging.getLogger(__name__)


class ConversationDirectory:
    """Cached ``conversations.info`` and ``conversations.members`` answers for one gathering."""

    def __init__(self, client: WebClient | None) -> None:
        self.client = client
        self._info: dict[str, dict[str, Any] | None] = {}
        self._members: dict[str, frozenset[str]] = {}

    def info(self, channel: str) -> dict[str, Any] | None:
        if channel not in self._info:
            info: dict[str, Any] | None = None
            if self.client is not None:
                try:
                    info = self.client.conversations_info(channel=channel).get("channel")
                except SlackApiError as exc:
                    log.warning("conversations.info %s failed: %s", channel, exc.response.get("error"))
            self._info[channel] = info
        return self._info[channel]

    def name(self, channel: str) -> str | None:
        info = self.info(channel)
        return str(info["name"]) if info and info.get("name") else None

    def is_public_channel(self, channel: str) -> bool:
        info = self.info(channel)
        if not info:
            return False
        return not (info.get("is_private") or info.get("is_im") or info.get("is_mpim") or info.get("is_group"))

    def is_direct_message_with(self, channel: str, user: str) -> bool:
        """True when ``channel`` is a DM between the bot and ``user`` (and nobody else)."""
        info = self.info(channel)
        return bool(info and info.get("is_im") and info.get("user") == user)

    def is_internal(self, channel: str) -> bool:
        """True when nobody outside the workspace reads ``channel`` (not Slack Connect, not pending)."""
        info = self.info(channel)
        return bool(info) and not any(info.get(flag) for flag in (  # type: ignore[union-attr]
            "is_ext_shared", "is_shared", "is_pending_ext_shared"))

    def members(self, channel: str) -> frozenset[str]:
        if channel not in self._members:
            members: set[str] = set()
            if self.client is not None:
                cursor: str | None = None
                try:
                    while True:
                        page = self.client.conversations_members(channel=channel, cursor=cursor, limit=1000)
                        members.update(page.get("members", []))
                        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                        if not cursor:
                            break
                except SlackApiError as exc:
                    log.warning("conversations.members %s failed: %s", channel, exc.response.get("error"))
                    members = set()
            self._members[channel] = frozenset(members)
        return self._members[channel]


def may_see(document: Document, request: GatherRequest, directory: ConversationDirectory) -> bool:
    """The rule in the module docstring."""
    if not document.restricted:
        return True
    if request.channel in document.visible_in:
        return True
    if directory.is_internal(request.channel) and any(directory.is_public_channel(c) for c in document.visible_in):
        return True
    return directory.is_direct_message_with(request.channel, request.user) and any(
        request.user in directory.members(c) for c in document.visible_in
    )


def visible_documents(documents: list[Document], request: GatherRequest,
                      directory: ConversationDirectory) -> list[Document]:
    """``documents`` that the asker and everyone reading the answer may see; the others are logged."""
    kept = []
    for document in documents:
        if may_see(document, request, directory):
            kept.append(document)
        else:
            log.info("withheld %s from a question in %s: not visible there", document.doc_id, request.channel)
    return kept
