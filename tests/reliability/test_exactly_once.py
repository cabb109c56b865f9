"""One answer per question, whatever Slack redelivers: HTTP retries (``X-Slack-Retry-Num``), Socket Mode
redeliveries, the twin ``app_mention`` + ``message`` events, and two bot processes at once."""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from jobs.enqueue import Claim, claim_question
from jobs.threads import remember_bot_thread
from tests.conftest import REDIS_URL
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack
from tests.helpers import (
    CHANNEL,
    QUEUE,
    answered_mention,
    bot_messages,
    dispatch,
    drain_listeners,
    make_bot,
    mention_event,
    queued,
    run_worker_burst,
    wait_for,
)
from tests.reliability.conftest import free_port
from tests.reliability.support import python
from tests.slack_requests import SIGNING_SECRET, event_body, sign

APP_TOKEN = "xapp-1-A0001-test-app-token"


def assert_one_answer(slack: FakeSlack, event: dict[str, Any], topic: str) -> None:
    [answer] = bot_messages(slack, thread_ts=event.get("thread_ts") or event["ts"])
    assert topic in json.dumps(answer["blocks"])


def test_http_retries_of_every_reason_are_answered_once(world: FakeSlack, redis: Redis) -> None:
    app = make_bot(world, redis)
    event = mention_event(world, f"<@{BOT_USER_ID}> what do I check when payments latency is high?")
    body = event_body(event, "Ev1")
    assert dispatch(app, body).status == 200
    for num, reason in ((1, "http_timeout"), (2, "http_error"), (3, "unknown_error")):
        response = dispatch(app, body, headers={"x-slack-retry-num": str(num), "x-slack-retry-reason": reason})
        assert response.status == 200, "a retry is acknowledged, so Slack stops retrying"
    drain_listeners(app)
    assert queued(redis) == 1, "one job"
    assert len(world.calls_to("chat.postMessage")) == 1, "one placeholder"
    run_worker_burst(redis)
    assert_one_answer(world, event, "Payments API latency")
    assert queued(redis) == 0


class RecordingSocketClient:
    """Stands in for the Socket Mode WebSocket client: records the acks Bolt sends back."""

    def __init__(self) -> None:
        self.logger = __import__("logging").getLogger("tests.socket_mode")
        self.acks: list[SocketModeResponse] = []

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.acks.append(response)


def test_socket_mode_redeliveries_are_answered_once(world: FakeSlack, redis: Redis) -> None:
    app = make_bot(world, redis)
    handler = SocketModeHandler(app, app_token=APP_TOKEN)  # not connected: we feed it
    client = RecordingSocketClient()
    event = mention_event(world, f"<@{BOT_USER_ID}> how do I renew the TLS certificate?")
    payload = json.loads(event_body(event, "Ev7"))
    deliveries = [SocketModeRequest(type="events_api", envelope_id="env-1", payload=payload)]
    deliveries += [SocketModeRequest(type="events_api", envelope_id=f"env-{n + 1}", payload=payload,
                                     retry_attempt=n, retry_reason="timeout") for n in (1, 2)]
    for request in deliveries:
        handler.handle(client, request)  # type: ignore[arg-type]
    assert [a.envelope_id for a in client.acks] == ["env-1", "env-2", "env-3"]
    drain_listeners(app)
    assert queued(redis) == 1, "one job"
    assert len(world.calls_to("chat.postMessage")) == 1, "one placeholder"
    run_worker_burst(redis)
    assert_one_answer(world, event, "TLS certificate expiry")
    assert len(bot_messages(world)) == 1


@pytest.mark.parametrize("mention_first", [True, False], ids=["mention-first", "message-first"])
def test_twin_mention_and_message_in_a_bot_thread_are_answered_once(
    world: FakeSlack, redis: Redis, mention_first: bool
) -> None:
    app = make_bot(world, redis)
    first = answered_mention(app, world, redis, "how do I fail over the database?", "Ev20")

    # a follow-up in the bot's thread that mentions the bot: Slack sends app_mention AND message
    text = f"<@{BOT_USER_ID}> and how do I roll back payments-api?"
    follow = world.add_message(CHANNEL, text, thread_ts=first["ts"])
    mention = {"type": "app_mention", "user": "U1", "text": text, "ts": follow["ts"],
               "thread_ts": first["ts"], "channel": CHANNEL, "event_ts": follow["ts"]}
    message = {**mention, "type": "message", "channel_type": "channel"}
    twins = [(mention, "Ev21"), (message, "Ev22")]
    for twin, event_id in twins if mention_first else twins[::-1]:
        dispatch(app, event_body(twin, event_id))
    drain_listeners(app)
    assert queued(redis) == 1, "one follow-up job"
    assert len(world.calls_to("chat.postMessage")) == 2, "one placeholder for each question"
    run_worker_burst(redis)
    replies = bot_messages(world, thread_ts=first["ts"])
    assert len(replies) == 2, [r["text"][:60] for r in replies]
    assert "Payments API latency" in json.dumps(replies[1]["blocks"])


def test_concurrent_deliveries_to_two_apps_race_to_one_claim(
    world: FakeSlack, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two bot apps (two Redis connections, as two processes would have) each get the app_mention
    and its twin ``message`` four times at once. The question is in a bot thread, so both event types
    reach the intake with the same job id: the ``SET NX`` claim in Redis is what lets one through.
    (RQ's unique job id would still keep the queue to one job; without the claim every winner would
    post a placeholder and delete it again, so the placeholder count is what this test guards.)"""
    connections = [redis, Redis.from_url(REDIS_URL)]
    claims: list[tuple[int, bool]] = []
    claim_lock = threading.Lock()

    def recording_claim(connection: Redis, job_id: str) -> Claim | None:
        won = claim_question(connection, job_id)
        with claim_lock:
            claims.append((connections.index(connection), won is not None))
        return won

    monkeypatch.setattr("bot.intake.claim_question", recording_claim)
    try:
        apps = [make_bot(world, connection) for connection in connections]
        root = world.add_message(CHANNEL, "the postgres primary is down")
        remember_bot_thread(redis, CHANNEL, root["ts"])  # the bot answered there earlier
        event = mention_event(world, f"<@{BOT_USER_ID}> how do I promote the postgres replica?",
                              thread_ts=root["ts"])
        twin = {**event, "type": "message", "channel_type": "channel"}
        bodies = [event_body(event, "Ev30"), event_body(twin, "Ev31")]
        barrier = threading.Barrier(16)

        def deliver(i: int) -> None:  # app i % 2 gets body (i // 2) % 2: both apps get both events
            barrier.wait()
            retry = {"x-slack-retry-num": str(i // 4), "x-slack-retry-reason": "http_timeout"}
            dispatch(apps[i % 2], bodies[(i // 2) % 2], headers=retry if i > 3 else None)

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        drain_listeners(*apps)
    finally:
        connections[1].close()
    assert len(claims) == 16, "every delivery reached the claim"
    assert sorted({app for app, _ in claims}) == [0, 1], "both apps raced for the claim"
    assert [won for _, won in claims].count(True) == 1, claims
    assert len(world.calls_to("chat.postMessage")) == 1, "one placeholder"
    assert world.calls_to("chat.delete") == [], "no second placeholder was posted and taken back"
    assert queued(redis) == 1
    run_worker_burst(redis)
    assert_one_answer(world, event, "Database failover")


@dataclass
class BotProcess:
    """A real ``python -m bot`` process in HTTP mode; ``log`` holds its stderr, at INFO."""

    port: int
    log: Path

    def outcomes(self) -> list[str]:
        """What the intake logged for each delivery that reached it: claimed by another, or queued."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if "already claimed" in line or "queued question" in line]


@pytest.fixture
def two_bot_processes(world: FakeSlack, tmp_path: Path) -> Iterator[list[BotProcess]]:
    """Two real ``python -m bot`` processes in HTTP mode, as behind a load balancer."""
    bots = [BotProcess(free_port(), tmp_path / f"bot-{i}.log") for i in range(2)]
    processes = []
    for bot in bots:
        with bot.log.open("wb") as log:
            processes.append(python("-m", "bot", env={
                "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_APP_TOKEN": "",
                "REDIS_URL": REDIS_URL, "CHATOPS_QUEUE": QUEUE, "PORT": str(bot.port),
                "SLACK_API_URL": world.api_url, "LOG_LEVEL": "INFO"}, stdout=subprocess.DEVNULL, stderr=log))
    try:
        for bot, process in zip(bots, processes, strict=True):
            def started(p: int = bot.port, pr: subprocess.Popen[bytes] = process) -> bool:
                return _listening(p) or pr.poll() is not None

            wait_for(started, timeout=30, what=f"the bot on port {bot.port}")
            assert process.poll() is None, f"the bot process exited at start: {bot.log.read_text()[-2000:]}"
        yield bots
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _listening(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/slack/events", timeout=0.5)
    except urllib.error.HTTPError:
        return True  # it answers (a GET without a signature is refused)
    except OSError:
        return False
    return True


def _post(port: int, body: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_two_bot_processes_answer_once(world: FakeSlack, redis: Redis, two_bot_processes: list[BotProcess]) -> None:
    """A mention in a bot thread, its twin ``message`` event and a Slack retry, each delivered to both
    processes at once: all six deliveries race for one claim."""
    root = world.add_message(CHANNEL, "the postgres primary is down")
    remember_bot_thread(redis, CHANNEL, root["ts"])  # the bot answered there earlier: the twin is a question too
    event = mention_event(world, f"<@{BOT_USER_ID}> how do I fail over the primary postgres database?",
                          thread_ts=root["ts"])
    twin = {**event, "type": "message", "channel_type": "channel"}
    deliveries = [(event_body(event, "Ev40"), {}), (event_body(twin, "Ev41"), {}),
                  (event_body(event, "Ev40"), {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})]
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def send(i: int) -> None:
        body, extra = deliveries[i % 3]
        barrier.wait()
        statuses.append(_post(two_bot_processes[i % 2].port, body, {**sign(body), **extra}))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 6

    def outcomes() -> list[str]:
        return [line for bot in two_bot_processes for line in bot.outcomes()]

    wait_for(lambda: len(outcomes()) >= 6, what="each of the six deliveries to log its outcome")
    assert sum("queued question" in line for line in outcomes()) == 1, outcomes()
    assert sum("already claimed" in line for line in outcomes()) == 5, outcomes()
    assert queued(redis) == 1 and len(world.calls_to("chat.postMessage")) == 1
    run_worker_burst(redis)
    assert_one_answer(world, event, "Database failover")

    # and both processes refuse a request with a bad signature
    body = event_body(event, "Ev42")
    for bot in two_bot_processes:
        assert _post(bot.port, body, sign(body, secret="not-the-secret")) == 401
