"""Bounded HTTP GET: one deadline for the whole transfer, redirects checked hop by hop, streamed body.

Used for Slack file downloads (redirects must stay on the same host, or the bot token would travel to
another one) and for linked pages (every hop must be on the allowlist).
"""

from __future__ import annotations

import http.client
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin, urlsplit

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
USER_AGENT = "clara-chatops/0.1 (+document gatherer)"


class FetchError(Exception):
    """A fetch failed; the message is short and safe to show to a Slack user (no tokens, no paths)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError for the 3xx, which open_url follows by hand


_OPENER = urllib.request.build_opener(_NoRedirects())


@dataclass
class Response:
    url: str  # after redirects
    status: int
    content_type: str  # lower case, without parameters, e.g. "text/html"
    charset: str | None
    content_length: int | None
    _raw: http.client.HTTPResponse
    _deadline: float
    _timeout_s: float

    def chunks(self, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The body, piece by piece; raises FetchError when the deadline passes."""
        while True:
            if time.monotonic() > self._deadline:
                raise FetchError(f"timed out after {self._timeout_s:g} s")
            try:
                piece = self._raw.read1(size)
            except TimeoutError:
                raise FetchError(f"timed out after {self._timeout_s:g} s") from None
            except (OSError, http.client.HTTPException) as exc:
                raise FetchError(f"connection failed ({type(exc).__name__})") from None
            if not piece:
                return
            yield piece

    def read(self, max_bytes: int) -> tuple[bytes, bool]:
        """At most ``max_bytes`` of the body, and whether there was more."""
        body = bytearray()
        for piece in self.chunks():
            body.extend(piece)
            if len(body) > max_bytes:
                return bytes(body[:max_bytes]), True
        return bytes(body), False


def _content_type(headers: Message) -> tuple[str, str | None]:
    return headers.get_content_type().lower(), headers.get_content_charset()


@contextmanager
def open_url(
    url: str,
    *,
    timeout_s: float,
    url_allowed: Callable[[str], bool],
    headers: dict[str, str] | None = None,
    max_redirects: int = 3,
) -> Iterator[Response]:
    """GET ``url`` and yield the response once its headers arrived with a 2xx status.

    Raises FetchError on timeouts, connection errors, HTTP errors, too many redirects, or a redirect to a
    URL that ``url_allowed`` refuses (checked before it is requested).
    """
    deadline = time.monotonic() + timeout_s
    current = url
    for _hop in range(max_redirects + 1):
        if urlsplit(current).scheme not in ("http", "https"):
            raise FetchError("not an http(s) link")
        if not url_allowed(current):
            raise FetchError(f"{urlsplit(current).hostname or 'that host'} is not an allowed host")
        request = urllib.request.Request(current, headers={"User-Agent": USER_AGENT, **(headers or {})})
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"timed out after {timeout_s:g} s")
        try:
            raw = _OPENER.open(request, timeout=remaining)
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location") if exc.code in (301, 302, 303, 307, 308) else None
            exc.close()
            if location:
                target = urljoin(current, location)
                log.debug("redirect %s -> %s", current, target)
                if not url_allowed(target):
                    host = urlsplit(target).hostname or "another host"
                    raise FetchError(f"redirected to {host}, which is not an allowed host") from None
                current = target
                continue
            raise FetchError(f"HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise FetchError(f"timed out after {timeout_s:g} s") from None
            raise FetchError(f"connection failed ({type(exc.reason).__name__})") from None
        except TimeoutError:
            raise FetchError(f"timed out after {timeout_s:g} s") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise FetchError(f"connection failed ({type(exc).__name__})") from None
        with raw:
            content_type, charset = _content_type(raw.headers)
            length_header = raw.headers.get("Content-Length")
            yield Response(
                url=current, status=raw.status, content_type=content_type, charset=charset,
                content_length=int(length_header) if length_header and length_header.isdigit() else None,
                _raw=raw, _deadline=deadline, _timeout_s=timeout_s,
            )
        return
    raise FetchError(f"more than {max_redirects} redirects")


def same_origin(url: str) -> Callable[[str], bool]:
    """A ``url_allowed`` that accepts only URLs with the scheme, host and port of ``url``."""
    origin = urlsplit(url)

    def allowed(candidate: str) -> bool:
        parts = urlsplit(candidate)
        return (parts.scheme, parts.netloc.lower()) == (origin.scheme, origin.netloc.lower())

    return allowed


class HostAllowlist:
    """Entries: ``host`` (any port), ``host:port`` (that port only), ``*.domain`` (any subdomain)."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        self.entries = tuple(e.strip().lower() for e in entries if e.strip())

    def __call__(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            return False
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        for entry in self.entries:
            if entry.startswith("*."):
                if host.endswith(entry[1:]):
                    return True
            elif entry in (host, f"{host}:{port}"):
                return True
        return False
