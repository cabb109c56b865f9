"""Requests with a bad or stale signature are refused; tokens and secrets never reach logs or job
payloads; job payloads are JSON, never pickles."""

from __future__ import annotations

import json
import logging
import pickle
import time
import zlib
from typing import Any

import pytest
from redis import Redis
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.request import BoltRequest
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.app import build_app
from bot.settings import BotSettings
from jobs.slack_client import slack_client
from tests.fake_slack import BOT_USER_ID, FakeSlack, Fault
from tests.helpers import (
    QUEUE,
    bot_messages,
    dispatch,
    drain_listeners,
    make_bot,
    mention_event,
    queued,
    run_worker_burst,
    thread_files,
    wait_for,
)
from tests.reliability.test_exactly_once import RecordingSocketClient
from tests.slack_requests import command_body, event_body, sign
from worker.context import WorkerContext, set_context
from worker.documents.gather import DocumentGatherer
from worker.documents.runbooks import RunbookFolder
from worker.engine.default import ExtractiveEngine
from worker.pipeline import AnswerPipeline
from worker.runtime import engine_index

# distinctive secrets, so any leak is found by a plain substring search
BOT_TOKEN = "xoxb-1111-2222-SECRETbotTOKENxyz"
APP_TOKEN = "xapp-1-A0001-3333-SECRETappTOKENxyz"
SIGNING_SECRET = "SECRETsigningSECRET0123456789abcdef"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET)


def test_bad_and_stale_signatures_are_refused(world: FakeSlack, redis: Redis) -> None:
    app = make_bot(world, redis)
    event = mention_event(world, f"<@{BOT_USER_ID}> how do I fail over?")
    body = event_body(event)
    json_type = {"content-type": "application/json"}
    now = int(time.time())
    refused = {
        "wrong secret": sign(body, secret="wrong-secret"),
        "six minutes old": sign(body, timestamp=now - 6 * 60),
        "six minutes ahead": sign(body, timestamp=now + 6 * 60),
        "body changed after signing": sign(body.replace("fail over", "drop the database")),
        "no signature": {"x-slack-request-timestamp": str(now)},
        "no timestamp": {"x-slack-signature": sign(body)["x-slack-signature"]},
    }
    for what, headers in refused.items():
        response = app.dispatch(BoltRequest(body=body, headers={**json_type, **headers}))
        assert response.status == 401, what
    form = command_body("/ask", "how do I fail over?")
    stale = app.dispatch(BoltRequest(body=form, headers={"content-type": "application/x-www-form-urlencoded",
                                                         **sign(form, timestamp=now - 301)}))
    assert stale.status == 401
    drain_listeners(app)
    assert queued(redis) == 0 and not world.calls_to("chat.postMessage"), "nothing ran for a refused request"

    app = make_bot(world, redis)
    fresh = app.dispatch(BoltRequest(body=body, headers={**json_type, **sign(body, timestamp=now - 4 * 60)}))
    assert fresh.status == 200  # within five minutes: accepted
    wait_for(lambda: queued(redis) == 1, what="the job of the good request")


def _raw(value: object) -> bytes:
    """A reply of the test client, which does not decode responses: always bytes (redis types say bytes | str)."""
    assert isinstance(value, bytes), type(value)
    return value


def _all_values(redis: Redis) -> dict[str, list[bytes]]:
    """Every byte string stored in the database, by key (hash fields and values, lists, sets, streams)."""
    out: dict[str, list[bytes]] = {}
    for raw_key in redis.scan_iter(count=1000):
        key = raw_key.decode()
        kind = _raw(redis.type(raw_key)).decode()
        values: list[bytes] = [raw_key]
        if kind == "string":
            values.append(_raw(redis.get(raw_key) or b""))
        elif kind == "hash":
            for field, value in redis.hgetall(raw_key).items():
                values += [_raw(field), _raw(value)]
        elif kind == "list":
            values += [_raw(v) for v in redis.lrange(raw_key, 0, -1)]
        elif kind == "set":
            values += [_raw(v) for v in redis.smembers(raw_key)]
        elif kind == "zset":
            for pair in redis.zrange(raw_key, 0, -1, withscores=True):
                assert not isinstance(pair, (bytes, str)), "withscores: (member, score) pairs"
                member, _ = pair
                values.append(_raw(member))
        elif kind == "stream":
            entries = redis.xrange(raw_key)
            assert entries is not None
            for _, entry in entries:
                assert entry is not None
                for field, value in entry.items():
                    values += [_raw(field), _raw(value)]
        out[key] = values
    return out


def _maybe_unzip(value: bytes) -> bytes:
    try:
        return zlib.decompress(value)
    except zlib.error:
        return value


def _is_pickle(value: bytes) -> bool:
    if not value.startswith(b"\x80"):
        return False
    try:
        pickle.loads(value)
    except Exception:
        return False
    return True


@pytest.fixture
def secret_world(redis: Redis, engine: ExtractiveEngine, runbooks: Any) -> Any:
    with FakeSlack(token=BOT_TOKEN) as slack:
        slack.add_channel("C1", "ops", members={"U1"})
        client = slack_client(BOT_TOKEN, slack.api_url)
        gatherer = DocumentGatherer([RunbookFolder(runbooks), thread_files(client)])
        pipeline = AnswerPipeline(gatherer, engine, engine_index(engine, redis))
        set_context(WorkerContext(pipeline=pipeline, slack=client, redis=redis))
        yield slack
        set_context(None)


def test_tokens_and_secrets_never_reach_logs_or_redis(
    secret_world: FakeSlack, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    slack = secret_world
    caplog.set_level(logging.DEBUG)  # the root logger: bot, jobs, worker, rq, urllib3...
    for name in ("slack_sdk", "slack_bolt", "bot.bolt", "rq", "rq.worker", "worker", "jobs", "bot"):
        caplog.set_level(logging.DEBUG, logger=name)
    settings = BotSettings(bot_token=BOT_TOKEN, app_token=APP_TOKEN, signing_secret=SIGNING_SECRET,
                           slack_api_url=slack.api_url, queue_name=QUEUE)
    assert BOT_TOKEN not in repr(settings) and SIGNING_SECRET not in repr(settings)
    app = build_app(settings, redis=redis)

    # HTTP mode: a mention, a Slack retry of it, and a forged request
    first = mention_event(slack, f"<@{BOT_USER_ID}> how do I fail over the primary postgres database?")
    body = event_body(first, "Ev1")
    dispatch(app, body, headers=sign(body, secret=SIGNING_SECRET))
    dispatch(app, body, headers={**sign(body, secret=SIGNING_SECRET), "x-slack-retry-num": "1"})
    dispatch(app, body, headers=sign(body, secret="forged"))
    # Socket Mode: a mention delivered over the (stand-in) WebSocket
    second = mention_event(slack, f"<@{BOT_USER_ID}> how do I renew the TLS certificate?")
    SocketModeHandler(app, app_token=APP_TOKEN).handle(
        RecordingSocketClient(),  # type: ignore[arg-type]
        SocketModeRequest(type="events_api", envelope_id="e1", payload=json.loads(event_body(second, "Ev2"))))
    # a slash command whose first edit fails, so the job fails once and is retried (exceptions logged)
    dispatch(app, command_body("/ask", "why is checkout slow?"), content_type="application/x-www-form-urlencoded",
             headers=sign(command_body("/ask", "why is checkout slow?"), secret=SIGNING_SECRET))
    wait_for(lambda: queued(redis) == 3, what="three jobs")
    slack.fail_next("chat.update", Fault(status=500), Fault(status=500), Fault(status=500))
    run_worker_burst(redis)
    assert len(bot_messages(slack)) == 3 and all("Answered by" in json.dumps(m["blocks"])
                                                 for m in bot_messages(slack))
    assert not any("invalid_auth" in json.dumps(m["blocks"]) for m in bot_messages(slack))
    assert all(c.token == BOT_TOKEN for c in slack.calls), "the clients did use the token"

    records = caplog.records
    assert len(records) > 50 and any(r.name.startswith("slack_sdk") for r in records)
    assert any(r.levelno == logging.DEBUG and r.name.startswith("slack_bolt") for r in records) or any(
        r.name == "bot.bolt" for r in records)
    text = "\n".join(caplog.messages) + "\n" + caplog.text
    for secret in SECRETS:
        assert secret not in text, f"a secret reached the logs: {secret[:8]}…"

    stored = _all_values(redis)
    job_keys = [k for k in stored if k.startswith("rq:job:")]
    assert len(job_keys) == 3
    for key in job_keys:
        data = redis.hget(key, "data")
        assert data is not None
        assert isinstance(data, bytes)
        func, _instance, args, _kwargs = json.loads(zlib.decompress(data))  # JSON, or this raises
        assert func == "worker.job.answer_question" and isinstance(args[0], dict)
        assert not _is_pickle(zlib.decompress(data))
    for key, values in stored.items():
        for value in values:
            plain = _maybe_unzip(value)
            assert not _is_pickle(plain), f"{key} holds a pickle"
            for secret in SECRETS:
                assert secret.encode() not in plain, f"{key} holds a secret"


def test_a_secret_in_a_question_is_redacted_before_it_is_echoed_stored_or_logged(
        world: FakeSlack, redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    """``/ask`` echoes the question publicly in its placeholder and the job payload keeps it for days: a
    token or password pasted into a question must be in neither, nor in any log line."""
    caplog.set_level(logging.DEBUG)
    for name in ("slack_sdk", "slack_bolt", "bot.bolt", "rq", "worker", "jobs", "bot"):
        caplog.set_level(logging.DEBUG, logger=name)
    token = "xoxp-2222222222-3333333333-4444444444-0123456789abcdef0123456789abcdef"
    question = f"why is {token} refused, and does DB_PASSWORD=hunter2-secret still work?"
    body = command_body("/ask", question, trigger_id="redact-1")
    dispatch(make_bot(world, redis), body, "application/x-www-form-urlencoded")
    wait_for(lambda: queued(redis) == 1, what="the job")
    placeholder = world.calls_to("chat.postMessage")[0].args["text"]
    expected = "why is [REDACTED] refused, and does DB_PASSWORD=[REDACTED] still work?"
    assert placeholder.startswith(f"<@U1> asked (`/ask`): {expected}")
    [job_key] = [k for k in redis.scan_iter("rq:job:*") if b":" not in k.removeprefix(b"rq:job:")]
    data = redis.hget(job_key, "data")
    assert isinstance(data, bytes)
    assert json.loads(zlib.decompress(data))[2][0]["question"] == expected
    run_worker_burst(redis)
    assert "Answered by" in json.dumps(bot_messages(world)[0]["blocks"])
    for secret in (token, "hunter2-secret"):
        assert secret not in caplog.text
        for values in _all_values(redis).values():
            assert all(secret.encode() not in _maybe_unzip(value) for value in values)
        assert all(secret not in json.dumps(call.args) for call in world.calls)
