"""A loopback HTTP server serving the kinds of pages a channel links to, good and bad.

Start with ``with FakePages() as pages:``; ``pages.url("/page.html")`` is a URL on 127.0.0.1 (put
``pages.host`` on the allowlist), ``pages.other_host_url(path)`` the same server under the name
``localhost``, which tests keep off the allowlist. Every request is recorded in ``pages.requests`` as
(host header, path).

Routes: ``/page.html`` (a normal HTML page), ``/notes.txt`` (plain text), ``/slow`` (answers after
``slow_s`` seconds), ``/slow-headers`` (the status line, then one header a second for two minutes),
``/trickle`` (headers at once, then a byte every 0.1 s), ``/huge`` (``huge_bytes`` of
HTML), ``/binary`` (a PNG), ``/nul.txt`` (says text/plain, is binary), ``/redirect-on`` (to
``/page.html``), ``/redirect-off`` (to ``localhost``, off the allowlist), ``/redirect-loop``; anything
added to ``pages.extra`` (path -> (content type, body)); 404 otherwise.
"""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler

from tests.loopback import LoopbackServer, QuietHandler

PAGE_HTML = b"""<!DOCTYPE html>
<html><head><title>Payments dashboard guide</title>
<style>body { color: red }</style><script>var secret = "do not show";</script></head>
<body><nav>Home | Docs</nav>
<h1>Payments dashboard</h1>
<p>The payments dashboard lives at <a href="/d/payments">grafana</a>. Use the
<b>p99 latency</b> panel when checkout is slow.</p>
<h2>Alerts</h2>
<ul><li>PaymentsHighErrorRate pages the on-call.</li><li>PaymentsLatency warns in #payments.</li></ul>
<pre>kubectl -n payments rollout restart deploy/payments-api</pre>
</body></html>
"""
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8


class FakePages(LoopbackServer):
    def __init__(self, *, slow_s: float = 5.0, huge_bytes: int = 20_000_000) -> None:
        self.slow_s = slow_s
        self.huge_bytes = huge_bytes
        self.requests: list[tuple[str, str]] = []
        self.extra: dict[str, tuple[str, bytes]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        super().__init__(self._handler_class())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # releases /slow and /trickle handlers
        super().__exit__(*exc)

    @property
    def host(self) -> str:
        """The allowlist entry for this server."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def other_host_url(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"

    def paths_requested(self) -> list[str]:
        with self._lock:
            return [path for _, path in self.requests]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        pages = self

        class Handler(QuietHandler):
            def _redirect(self, location: str) -> None:
                self.send(302, b"moved", "text/plain", {"Location": location})

            def do_GET(self) -> None:
                with pages._lock:
                    pages.requests.append((self.headers.get("Host", ""), self.path))
                path = self.path.split("?", 1)[0]
                # the client may stop reading (size caps, timeouts): expected
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._route(path)

            def _route(self, path: str) -> None:
                if path in pages.extra:
                    content_type, body = pages.extra[path]
                    self.send(200, body, content_type)
                elif path == "/page.html":
                    self.send(200, PAGE_HTML, "text/html; charset=utf-8")
                elif path == "/notes.txt":
                    self.send(200, b"Deploys freeze on Fridays after 15:00.\n", "text/plain; charset=utf-8")
                elif path == "/slow":
                    pages._stop.wait(pages.slow_s)
                    self.send(200, b"<p>finally</p>", "text/html")
                elif path == "/slow-headers":  # every read gets data within a second: no socket timeout fires
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
                    self.wfile.flush()
                    for n in range(120):
                        if pages._stop.wait(1.0):
                            return
                        self.wfile.write(f"X-Slow-{n}: {n}\r\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"Content-Length: 5\r\n\r\nlate\n")
                elif path == "/trickle":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    for _ in range(1000):
                        if pages._stop.wait(0.1):
                            return
                        self.wfile.write(b"x")
                        self.wfile.flush()
                elif path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(pages.huge_bytes))
                    self.end_headers()
                    block = b"<p>" + b"all work and no play " * 47 + b"</p>\n"
                    sent = 0
                    while sent < pages.huge_bytes and not pages._stop.is_set():
                        piece = block[: pages.huge_bytes - sent]
                        self.wfile.write(piece)
                        sent += len(piece)
                elif path == "/binary":
                    self.send(200, PNG_BYTES, "image/png")
                elif path == "/nul.txt":
                    self.send(200, b"looks like text\x00\x00\x00" + PNG_BYTES, "text/plain")
                elif path == "/redirect-on":
                    self._redirect("/page.html")
                elif path == "/redirect-off":
                    self._redirect(pages.other_host_url("/page.html?via=redirect"))
                elif path == "/redirect-loop":
                    self._redirect("/redirect-loop")
                else:
                    self.send(404, b"not found", "text/plain")

        return Handler
