"""Bounded HTTP GET: one deadline for the whole transfer, redirects checked hop by hop, streamed body.

Used for Slack file downloads (redirects must stay on the same host, or the bot token would travel to
another one) and for linked pages (every hop must be on the allowlist).

One deadline covers connecting, the TLS handshake, the headers and the body of every hop: urllib's
timeout bounds each socket read only, so a server sending one header a second would hold a fetch for ever.
A watchdog thread shuts the connection's socket down when the deadline passes (or the worker is asked
to stop: worker/deadline.py), which ends any read blocked on it.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urljoin, urlsplit

from worker.deadline import Deadline

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
USER_AGENT = "clara-chatops/0.1 (+document gatherer)"


class FetchError(Exception):
    """A fetch failed; the message is short and safe to show to a Slack user (no tokens, no paths)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError for the 3xx, which open_url follows by hand


WATCH_INTERVAL_S = 0.25  # how soon a watchdog sees a stop request that brings its deadline forward


class _Watchdog:
    """Shuts down the sockets of one fetch when its deadline passes."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="fetch-deadline", daemon=True)
        self._thread.start()

    def connect(self, address: tuple[str, int], timeout: float, source_address: Any = None) -> socket.socket:
        """``socket.create_connection``, for http.client; the socket is watched from then on."""
        sock = socket.create_connection(address, self.deadline.cap(timeout), source_address)
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)
        return sock

    def _watch(self) -> None:
        while not self._done.wait(min(WATCH_INTERVAL_S, max(0.0, self.deadline.remaining()))):
            if self.deadline.passed:
                with self._lock:
                    self.fired = True
                    for sock in self._sockets:
                        _shut(sock)
                return

    def close(self) -> None:
        self._done.set()


def _shut(sock: socket.socket) -> None:
    # the plain socket's shutdown, also for an SSLSocket: it wakes a read blocked in another thread,
    # where SSLSocket.shutdown would first unwrap the TLS layer under that read
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    """An opener whose connections are made, and watched, by ``watchdog``."""

    def watched(connection_class: type[http.client.HTTPConnection]) -> Callable[..., http.client.HTTPConnection]:
        def make(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            connection = connection_class(*args, **kwargs)
            connection._create_connection = watchdog.connect  # type: ignore[attr-defined]
            return connection

        return make

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(watched(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(watched(http.client.HTTPSConnection), req,
                                context=self._context)  # type: ignore[attr-defined]

    return urllib.request.build_opener(_NoRedirects(), Http(), Https())


@dataclass
class Response:
    url: str  # after redirects
    status: int
    content_type: str  # lower case, without parameters, e.g. "text/html"
    charset: str | None
    content_length: int | None
    _raw: http.client.HTTPResponse
    _deadline: Deadline
    _timed_out: Callable[[], FetchError]

    def chunks(self, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The body, piece by piece; raises FetchError when the deadline passes."""
        while True:
            if self._deadline.passed:
                raise self._timed_out()
            try:
                piece = self._raw.read1(size)
            except (OSError, http.client.HTTPException) as exc:
                if self._deadline.passed or isinstance(exc, TimeoutError):
                    raise self._timed_out() from None
                raise FetchError(f"connection failed ({type(exc).__name__})") from None
            if not piece:
                if self._deadline.passed:  # the watchdog shut the socket: an end that is no end
                    raise self._timed_out()
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
    deadline: Deadline | None = None,
) -> Iterator[Response]:
    """GET ``url`` and yield the response once its headers arrived with a 2xx status. All of it, every
    redirect and the body included, must be done within ``timeout_s`` and before ``deadline`` (the job's).

    Raises FetchError on timeouts, connection errors, HTTP errors, too many redirects, or a redirect to a
    URL that ``url_allowed`` refuses (checked before it is requested).
    """
    own_end = time.monotonic() + timeout_s
    limit = Deadline(min(own_end, deadline.at), deadline.stop) if deadline is not None else Deadline(own_end, None)

    def timed_out() -> FetchError:
        if deadline is not None and deadline.when() < own_end:
            return FetchError("out of time for this question" + (" (the worker is stopping)"
                                                                   if deadline.stopping else ""))
        return FetchError(f"timed out after {timeout_s:g} s")

    watchdog = _Watchdog(limit)
    try:
        with _open(url, limit, timed_out, _opener(watchdog), url_allowed, headers, max_redirects) as response:
            yield response
    finally:
        watchdog.close()


@contextmanager
def _open(url: str, limit: Deadline, timed_out: Callable[[], FetchError], opener: urllib.request.OpenerDirector,
          url_allowed: Callable[[str], bool], headers: dict[str, str] | None,
          max_redirects: int) -> Iterator[Response]:
    current = url
    for _hop in range(max_redirects + 1):
        if urlsplit(current).scheme not in ("http", "https"):
            raise FetchError("not an http(s) link")
        if not url_allowed(current):
            raise FetchError(f"{urlsplit(current).hostname or 'that host'} is not an allowed host")
        request = urllib.request.Request(current, headers={"User-Agent": USER_AGENT, **(headers or {})})
        if limit.passed:
            raise timed_out()
        try:
            raw = opener.open(request, timeout=limit.remaining())
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
            if limit.passed or isinstance(exc.reason, TimeoutError | socket.timeout):
                raise timed_out() from None
            raise FetchError(f"connection failed ({type(exc.reason).__name__})") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if limit.passed or isinstance(exc, TimeoutError):
                raise timed_out() from None
            raise FetchError(f"connection failed ({type(exc).__name__})") from None
        with raw:
            content_type, charset = _content_type(raw.headers)
            length_header = raw.headers.get("Content-Length")
            yield Response(
                url=current, status=raw.status, content_type=content_type, charset=charset,
                content_length=int(length_header) if length_header and length_header.isdigit() else None,
                _raw=raw, _deadline=limit, _timed_out=timed_out,
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
