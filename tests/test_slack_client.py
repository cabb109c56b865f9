"""The shared Slack client retries what is safe to repeat, against the fake Web API over loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk.errors import SlackClientError

from jobs.slack_client import slack_client
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack, Fault


def test_a_reset_connection_is_retried_for_an_update(slack: FakeSlack) -> None:
    slack.add_channel("C1", "ops")
    message = slack.add_message("C1", "working", user=BOT_USER_ID)
    slack.fail_next("chat.update", Fault(reset=True))
    client = slack_client(BOT_TOKEN, slack.api_url)
    client.chat_update(channel="C1", ts=message["ts"], text="answer")
    assert len(slack.calls_to("chat.update")) == 2
    assert slack.state.messages["C1"][0]["text"] == "answer"


def test_a_post_whose_connection_was_reset_is_not_posted_twice(slack: FakeSlack) -> None:
    """The request reached Slack before the connection dropped: it may have been posted."""
    slack.add_channel("C1", "ops")
    slack.fail_next("chat.postMessage", Fault(reset=True))
    client = slack_client(BOT_TOKEN, slack.api_url)
    with pytest.raises((SlackClientError, OSError)):
        client.chat_postMessage(channel="C1", text="answer")
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_a_post_to_a_server_that_refused_the_connection_is_retried() -> None:
    """Connection refused: nothing was sent, so a retry cannot post twice (it fails here: no server)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = slack_client(BOT_TOKEN, f"http://127.0.0.1:{port}/api/")
    attempts: list[int] = []
    for handler in client.retry_handlers:
        original = handler._can_retry

        def spy(*, _original: Callable[..., bool] = original, **kwargs: Any) -> bool:
            verdict = _original(**kwargs)
            attempts.append(int(verdict))
            return verdict

        handler._can_retry = spy  # type: ignore[method-assign]
    with pytest.raises((SlackClientError, OSError)):
        client.chat_postMessage(channel="C1", text="answer")
    assert sum(attempts) == 2, "the connection handler allowed its two retries"
