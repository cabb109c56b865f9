"""Fetch a web page the worker may read (allowlisted host, every redirect too) and turn it into text.

One deadline for the whole page, a size cap (longer pages are cut, with a note), HTML turned into text,
plain text and JSON kept, anything else (images, PDFs, archives) skipped. The bot token is never sent.
"""

from __future__ import annotations

import logging

from worker.deadline import Deadline
from worker.documents.document import Document
from worker.documents.file_content import human_bytes, is_binary
from worker.documents.html_text import html_to_text
from worker.documents.http_fetch import FetchError, HostAllowlist, open_url
from worker.documents.skipped import skipped_document

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("application/json", "application/xml", "application/yaml", "application/x-yaml",
              "application/x-ndjson")


class PageFetcher:
    def __init__(self, allowlist: tuple[str, ...], *, timeout_s: float, max_bytes: int,
                 max_redirects: int = 3) -> None:
        self.allowed = HostAllowlist(allowlist)
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects

    def may_fetch(self, url: str) -> bool:
        return self.allowed(url)

    def fetch(self, url: str, *, kind: str = "link", title: str | None = None, visible_in: tuple[str, ...] = (),
              restricted: bool = True, deadline: Deadline | None = None) -> Document:
        """The page as a document, or a skipped placeholder whose note says why. ``deadline``: the
        question's, which cuts the fetch off sooner than ``timeout_s`` when it is nearer."""
        doc_id = f"{kind}:{url}"
        try:
            with open_url(url, timeout_s=self.timeout_s, url_allowed=self.allowed,
                          max_redirects=self.max_redirects, deadline=deadline) as resp:
                content_type, charset = resp.content_type, resp.charset
                if not (content_type.startswith("text/") or content_type in HTML_TYPES + TEXT_TYPES):
                    raise FetchError(f"not a text page ({content_type})")
                body, truncated = resp.read(self.max_bytes)
        except FetchError as exc:
            log.info("not reading %s: %s", url, exc)
            return skipped_document(doc_id, url, str(exc), visible_in=visible_in, restricted=restricted)
        if is_binary(body):
            return skipped_document(doc_id, url, "binary content", visible_in=visible_in, restricted=restricted)
        text = body.decode(charset or "utf-8", errors="replace")
        page_title = None
        if content_type in HTML_TYPES:
            text, page_title = html_to_text(text)
        notes = (f"read only the first {human_bytes(self.max_bytes)} of {url}",) if truncated else ()
        return Document(doc_id=doc_id, title=title or page_title or url, text=text, kind=kind, link=url,
                        notes=notes, visible_in=visible_in, restricted=restricted)
