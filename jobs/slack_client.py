"""The Slack Web API client both processes use: retries on 429 (honouring Retry-After), 5xx, resets
and read timeouts."""

from __future__ import annotations

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


class TimeoutRetryHandler(ConnectionErrorRetryHandler):
    """Retries a request whose response did not arrive in time (urllib raises a bare ``TimeoutError``,
    which ``ConnectionErrorRetryHandler`` does not cover), with the same backoff.

    Not ``chat.postMessage``: the message may have been posted, and a retry would post it twice."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return isinstance(error, TimeoutError) and not request.url.rstrip("/").endswith(_NOT_REPEATABLE)


def slack_client(token: str, base_url: str | None = None, timeout: int = 15) -> WebClient:
    client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=timeout)
    client.retry_handlers.extend([
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
        TimeoutRetryHandler(max_retry_count=2),
    ])
    return client
