"""HTTP mode: Bolt's ASGI adapter served by uvicorn, with the limits Bolt's development server lacks.

Bolt's ``app.start()`` is a single-threaded development server without timeouts: one half-sent request
held every other one (a signed event then missed Slack's 3 seconds), and a request's body was read whole
into memory before its signature was checked (a 1.5 GB unsigned body: 1.47 GB of bot memory). Here:

* uvicorn serves connections on an event loop: a slow or half-sent request holds its own connection only;
  at most ``max_connections`` are served at once (more get 503), idle keep-alive connections are closed
  after ``KEEP_ALIVE_S``, and request lines and headers are capped by uvicorn (16 KB of incomplete input);
* a body longer than ``max_body_bytes`` is refused with 413 before it is read, by its ``Content-Length``,
  or as soon as a chunked body passes the limit (uvicorn stops reading from a client whose body the app
  does not take, so the bytes it sends are not kept either);
* the body must arrive within ``request_timeout_s``, else 408;
* the signature is checked and the request dispatched by Bolt (its ASGI adapter), on a worker thread, so
  the event loop goes on serving others meanwhile; listeners ack at once (bot/listeners.py).
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.settings import BotSettings

log = logging.getLogger(__name__)

KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this long
EVENTS_PATH = "/slack/events"


class BodyTooLargeError(Exception):
    """The request's body is longer than the limit."""


class LimitedSlackRequestHandler(SlackRequestHandler):
    """Bolt's ASGI adapter, with a size limit and a deadline for the body, and dispatch off the event loop."""

    def __init__(self, app: App, *, max_body_bytes: int, body_timeout_s: float, path: str = EVENTS_PATH) -> None:
        super().__init__(app, path)
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        headers = request.get_headers()
        length = str(headers.get("content-length") or "")
        if length and (not length.isdigit() or int(length) > self.max_body_bytes):
            log.warning("refused a request with a %s byte body before reading it", length[:20])
            return _plain(413, "request body too large")
        try:
            body = await asyncio.wait_for(self._body(request), self.body_timeout_s)
        except BodyTooLargeError:
            log.warning("refused a chunked request body over %d bytes", self.max_body_bytes)
            return _plain(413, "request body too large")
        except TimeoutError:
            log.warning("a request body did not arrive within %.1f s", self.body_timeout_s)
            return _plain(408, "request body too slow")
        except ConnectionError:
            return _plain(400, "client went away")
        bolt_request = BoltRequest(body=body, query=request.query_string, headers=headers)
        return await asyncio.to_thread(self.app.dispatch, bolt_request)

    async def _body(self, request: AsgiHttpRequest) -> str:
        body = bytearray()
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("the client disconnected")
            body.extend(message.get("body", b""))
            if len(body) > self.max_body_bytes:
                raise BodyTooLargeError()
            if not message.get("more_body", False):
                return body.decode("utf-8", "replace")


def _plain(status: int, text: str) -> BoltResponse:
    return BoltResponse(status=status, body=text, headers={"content-type": "text/plain; charset=utf-8",
                                                           "connection": "close"})


def serve_http(app: App, settings: BotSettings) -> None:
    """Serve Slack's requests on ``settings.http_host:settings.port`` until SIGTERM or SIGINT."""
    handler = LimitedSlackRequestHandler(app, max_body_bytes=settings.max_body_bytes,
                                         body_timeout_s=settings.request_timeout_s)
    log.info("HTTP mode: serving %s on %s:%d", EVENTS_PATH, settings.http_host, settings.port)
    uvicorn.run(handler, host=settings.http_host, port=settings.port, limit_concurrency=settings.max_connections,
                timeout_keep_alive=KEEP_ALIVE_S, log_config=None, access_log=False, lifespan="on",
                server_header=False, date_header=False)
