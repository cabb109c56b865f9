"""Pages linked in the channel's recent messages, when their host is on the allowlist.

Links to other hosts are ignored (logged at debug level, not noted to the user). Pages are fetched a few
at a time; each is restricted to the channel the link was posted in.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient

from worker.documents.base import GatherRequest
from worker.documents.document import Document
from worker.documents.pages import PageFetcher
from worker.documents.slack_api import response_items

log = logging.getLogger(__name__)

# Slack writes links as <https://host/path|label> or <https://host/path>; plain URLs are caught too.
_SLACK_LINK = re.compile(r"<(https?://[^|>\s]+)(?:\|[^>]*)?>")
_BARE_URL = re.compile(r"(?<![<|\w])(https?://[^\s<>|\"']+[^\s<>|\"'.,;:!?)\]])")
PARALLEL_FETCHES = 4


def links_in(text: str) -> list[str]:
    """URLs in a Slack message text, in order, without duplicates."""
    urls = _SLACK_LINK.findall(text) + _BARE_URL.findall(_SLACK_LINK.sub(" ", text))
    return list(dict.fromkeys(url.replace("&amp;", "&") for url in urls))


class ChannelLinks:
    name = "links"

    def __init__(self, client: WebClient, fetcher: PageFetcher, *, recent_messages: int, max_links: int,
                 window_s: int) -> None:
        self.client = client
        self.fetcher = fetcher
        self.recent_messages = recent_messages
        self.max_links = max_links
        self.window_s = window_s

    def recent_links(self, request: GatherRequest) -> list[tuple[str, str]]:
        """(url, channel it was posted in): the thread's links first, then the channel's recent ones."""
        oldest = time.time() - self.window_s
        channel = request.documents_channel
        history = self.client.conversations_history(channel=channel, limit=self.recent_messages,
                                                    oldest=f"{oldest:.6f}")
        posted = [(message, channel) for message in response_items(history, "messages")]
        if request.thread_ts:
            replies = self.client.conversations_replies(channel=request.channel, ts=request.thread_ts, limit=200)
            posted = [(message, request.channel) for message in response_items(replies, "messages")] + posted
        found: dict[str, str] = {}
        for message, where in posted:
            if float(message.get("ts") or 0) < oldest:
                continue
            for url in links_in(str(message.get("text") or "")):
                if self.fetcher.may_fetch(url):
                    found.setdefault(url, where)
                else:
                    log.debug("not fetching %s: host not on the allowlist", url)
        return list(found.items())[: self.max_links]

    def gather(self, request: GatherRequest) -> list[Document]:
        if self.max_links == 0 or not self.fetcher.allowed.entries:
            return []
        urls = self.recent_links(request)
        if not urls:
            return []
        with ThreadPoolExecutor(max_workers=min(PARALLEL_FETCHES, len(urls))) as pool:
            return list(pool.map(
                lambda link: self.fetcher.fetch(link[0], visible_in=(link[1],), deadline=request.deadline), urls))
