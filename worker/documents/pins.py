"""Pinned messages and pinned files of the channel."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from slack_sdk import WebClient

from worker.documents.base import GatherRequest
from worker.documents.document import Document
from worker.documents.slack_api import response_items
from worker.documents.slack_files import SlackFileReader

_LABELLED_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_LINK = re.compile(r"<(https?://[^|>]+)>")


def plain_message_text(text: str) -> str:
    """Slack markup to plain text: ``<url|label>`` -> ``label (url)``, ``<url>`` -> ``url``."""
    text = _LABELLED_LINK.sub(r"\2 (\1)", text)
    text = _LINK.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass
class ChannelPins:
    client: WebClient
    reader: SlackFileReader  # pinned files are read as uploads are
    name: ClassVar[str] = "pins"

    def gather(self, request: GatherRequest) -> list[Document]:
        channel = request.documents_channel
        listing = self.client.pins_list(channel=channel)
        documents: list[Document] = []
        for item in response_items(listing, "items"):
            if request.out_of_time:
                break
            if item.get("type") == "message" and item.get("message"):
                documents.extend(self._message(channel, item["message"]))
            elif item.get("type") == "file" and item.get("file"):
                file_obj = item["file"]
                if file_obj.get("url_private_download") or file_obj.get("url_private"):
                    documents.extend(self.reader.read(file_obj, shared_in=(channel,), deadline=request.deadline))
                else:
                    documents.extend(self.reader.read_id(str(file_obj["id"]), channel, deadline=request.deadline))
        return documents

    def _message(self, channel: str, message: dict[str, Any]) -> list[Document]:
        text = plain_message_text(str(message.get("text") or "")).strip()
        if not text:
            return []
        first_line = text.split("\n", 1)[0]
        title = "Pinned: " + (first_line[:77] + "..." if len(first_line) > 80 else first_line)
        return [Document(doc_id=f"pin:{channel}:{message.get('ts')}", title=title, text=text, kind="pin",
                         link=message.get("permalink"), visible_in=(channel,), restricted=True)]
