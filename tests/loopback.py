"""The loopback HTTP server under the test fakes (``tests/fake_slack.py``, ``tests/fake_pages.py``).

A ``ThreadingHTTPServer`` on 127.0.0.1 at a free port, served from a daemon thread between ``__enter__``
and ``__exit__``; handlers derive from ``QuietHandler``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # the default backlog of 5 resets connections when more clients connect at once (the bot's 32
    # listener threads and the workers' job threads in the load test): Slack itself does not
    request_queue_size = 128


class LoopbackServer:
    """Serves ``handler`` on 127.0.0.1 while in a ``with`` block."""

    poll_s = 0.05  # how soon ``__exit__`` sees the shutdown request

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": self.poll_s},
                                        daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1, no access log, and one way to send a whole response."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
