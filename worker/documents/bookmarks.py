"""The channel's bookmarks: the bookmarked page when its host is allowlisted, else the title and link.

A bookmark's title and link alone are still worth a candidate ("where is the payments dashboard?").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from slack_sdk import WebClient

from worker.documents.base import GatherRequest
from worker.documents.document import Document
from worker.documents.pages import PageFetcher
from worker.documents.skipped import is_skipped
from worker.documents.slack_api import response_items


@dataclass
class ChannelBookmarks:
    client: WebClient
    fetcher: PageFetcher  # bookmarked pages on allow-listed hosts are read too
    name: ClassVar[str] = "bookmarks"

    def gather(self, request: GatherRequest) -> list[Document]:
        channel = request.documents_channel
        listing = self.client.bookmarks_list(channel_id=channel)
        documents = []
        for bookmark in response_items(listing, "bookmarks"):
            if request.out_of_time:
                break
            link = str(bookmark.get("link") or "")
            title = str(bookmark.get("title") or link or "bookmark")
            if not link:
                continue
            visible_in = (channel,)
            summary = Document(doc_id=f"bookmark:{channel}:{bookmark.get('id') or link}", title=title,
                               text=f"Bookmark in this channel: {title}\n{link}", kind="bookmark", link=link,
                               visible_in=visible_in, restricted=True)
            if not self.fetcher.may_fetch(link):
                documents.append(summary)
                continue
            page = self.fetcher.fetch(link, kind="bookmark", title=title, visible_in=visible_in,
                                      deadline=request.deadline)
            if is_skipped(page):  # keep the title and link, and say why the page is missing
                documents.append(replace(summary, notes=page.notes))
            else:
                documents.append(page)
        return documents
