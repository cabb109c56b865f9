"""The Slack Web API client both processes use: retries on 429 (honouring Retry-After), 5xx, resets
and read timeouts (never repeating a ``chat.postMessage`` that may have been posted)."""

from __future__ import annotations

from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

# Methods whose repeat is not harmless: Slack may have acted before the response was lost.
_NOT_REPEATABLE = ("chat.postMessage",)


class ConnectionLostRetryHandler(ConnectionErrorRetryHandler):
    """Retries requests whose connection failed (refused, reset, closed) or whose response did not
    arrive in time (urllib raises a bare ``TimeoutError``, which ``ConnectionErrorRetryHandler`` does not
    cover), with backoff.

    A ``chat.postMessage`` is repeated only when it never reached Slack (connection refused): after a
    reset or a timeout the message may have been posted, and a retry would post it twice."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        lost = isinstance(error, TimeoutError) or super()._can_retry(state=state, request=request,
                                                                     response=response, error=error)
        if not lost:
            return False
        if request.url.rstrip("/").endswith(_NOT_REPEATABLE):
            return isinstance(error, URLError) and isinstance(error.reason, ConnectionRefusedError)
        return True


def slack_client(token: str, base_url: str | None = None, timeout: int = 15) -> WebClient:
    # these handlers replace the SDK's default one, which would repeat a chat.postMessage after a reset
    return WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=timeout, retry_handlers=[
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionLostRetryHandler(max_retry_count=2),
    ])
