"""The index on real parts (bot, Redis, RQ worker, fake Slack over loopback): it survives a worker
restart, follows runbook edits, ingests a shared file once, never holds up a question, keeps private
files private, and finds the incident in the middle of a multi-megabyte gzipped log."""

from __future__ import annotations

import gzip
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from jobs.ingest import ingest_queue
from tests.fake_slack import BOT_USER_ID, FakeSlack
from tests.helpers import QUEUE, dispatch, drain_listeners, make_bot, queued, run_worker_burst, wait_for, worker_context
from tests.slack_requests import command_body, event_body
from worker.context import WorkerContext
from worker.engine.default import ExtractiveEngine
from worker.index.runbook_sync import RunbookSync
from worker.queue_worker import run_worker

PUBLIC, OTHER, PRIVATE = "C1", "C2", "G1"


@pytest.fixture
def world(slack: FakeSlack) -> Iterator[FakeSlack]:
    """The fake workspace: a public channel, another one, a private one (no worker set up: each test sets
    up its worker, or two, one after the other, as a restart)."""
    slack.add_channel(PUBLIC, "ops", members={"U1", "U2"})
    slack.add_channel(OTHER, "payments", members={"U1"})
    slack.add_channel(PRIVATE, "sec-incident", private=True, members={"U1"})
    yield slack


def ask(slack: FakeSlack, redis: Redis, text: str, channel: str = PUBLIC, files: list[str] | None = None) -> str:
    """Mention the bot; returns the message ts (the thread the answer goes to)."""
    file_objs = [{"id": f} for f in files or []]
    message = slack.add_message(channel, f"<@{BOT_USER_ID}> {text}", files=file_objs or None)
    event = {"type": "app_mention", "user": "U1", "text": message["text"], "ts": message["ts"],
             "channel": channel, "event_ts": message["ts"], **({"files": file_objs} if file_objs else {})}
    bot = make_bot(slack, redis)
    dispatch(bot, event_body(event, f"Ev{message['ts']}"))
    drain_listeners(bot)  # the question is queued
    return str(message["ts"])


def answer_in(slack: FakeSlack, channel: str, thread_ts: str) -> dict:
    replies = [m for m in slack.state.messages.get(channel, [])
               if m.get("user") == BOT_USER_ID and m.get("thread_ts") == thread_ts]
    assert len(replies) == 1, replies
    return replies[0]


def share(slack: FakeSlack, redis: Redis, file_id: str, channel: str) -> None:
    """What Slack sends when a file is uploaded to a channel: ``file_shared`` and a message with the file
    (and, here, a redelivery of the first)."""
    bot = make_bot(slack, redis)
    shared = {"type": "file_shared", "file_id": file_id, "user_id": "U1", "file": {"id": file_id},
              "channel_id": channel, "event_ts": slack.next_ts()}
    message = slack.add_message(channel, "", files=[slack.state.files[file_id]])
    posted = {"type": "message", "subtype": "file_share", "channel_type": "channel", "user": "U1", "text": "",
              "ts": message["ts"], "channel": channel, "files": [{"id": file_id}]}
    dispatch(bot, event_body(shared, f"EvS{file_id}"))
    dispatch(bot, event_body(posted, f"EvM{file_id}"))
    dispatch(bot, event_body(shared, f"EvS{file_id}"), headers={"x-slack-retry-num": "1",
                                                                "x-slack-retry-reason": "http_timeout"})
    drain_listeners(bot)


def logs_command(slack: FakeSlack, redis: Redis, text: str = "why did the checkout fail?") -> None:
    bot = make_bot(slack, redis)
    dispatch(bot, command_body("/logs", text), content_type="application/x-www-form-urlencoded")
    wait_for(lambda: queued(redis) == 1, what="the question")


def logs_answer(slack: FakeSlack) -> dict:
    return next(m for m in slack.state.messages[PUBLIC] if m.get("user") == BOT_USER_ID and m.get("blocks"))


def test_the_index_survives_a_worker_restart(world: FakeSlack, redis: Redis, engine: ExtractiveEngine,
                                             runbooks: Path) -> None:
    with worker_context(world, redis, engine, runbooks) as first:
        thread = ask(world, redis, "how do I fail over the primary postgres database?")
        run_worker_burst(redis)
        assert "patronictl" in answer_in(world, PUBLIC, thread)["text"]
        assert first.pipeline.index.embedded > 0

    with worker_context(world, redis, engine, runbooks) as restarted:  # a new process: nothing in memory
        thread = ask(world, redis, "how do I renew the TLS certificate?")
        run_worker_burst(redis)
        assert "cmctl renew" in answer_in(world, PUBLIC, thread)["text"]
        assert restarted.pipeline.index.embedded == 0, "every chunk came from Redis"


def test_a_changed_or_deleted_runbook_is_reflected_in_the_next_answer(world: FakeSlack, redis: Redis,
                                                                     engine: ExtractiveEngine, runbooks: Path) -> None:
    with worker_context(world, redis, engine, runbooks) as context:
        thread = ask(world, redis, "how do I renew the TLS certificate?")
        run_worker_burst(redis)
        assert "cmctl renew" in answer_in(world, PUBLIC, thread)["text"]

        (runbooks / "tls-expiry.md").write_text("# TLS certificate expiry\n\nRenew the TLS certificate with "
                                                "`certbot renew --cert-name payments` on the edge proxy.\n")
        report = _runbook_sync(context).sync()
        assert (report.indexed, report.reused) == (1, 2), "only the changed runbook is indexed again"
        thread = ask(world, redis, "how do I renew the TLS certificate?")
        run_worker_burst(redis)
        reply = answer_in(world, PUBLIC, thread)
        assert "certbot renew" in reply["text"] and "cmctl" not in reply["text"]

        (runbooks / "tls-expiry.md").unlink()
        thread = ask(world, redis, "how do I renew the TLS certificate?")
        run_worker_burst(redis)
        reply = answer_in(world, PUBLIC, thread)
        assert "tls-expiry.md" not in json.dumps(reply["blocks"]) and "certbot" not in reply["text"]


def _runbook_sync(context: WorkerContext) -> RunbookSync:
    from worker.documents.runbooks import RunbookFolder

    folder = next(s for s in context.pipeline.gatherer.sources if isinstance(s, RunbookFolder))
    return RunbookSync(folder, context.pipeline.index, redactor=context.pipeline.gatherer.redactor)


def test_a_file_shared_twice_is_ingested_once_and_answered_from_the_index(
        world: FakeSlack, redis: Redis, engine: ExtractiveEngine, runbooks: Path) -> None:
    with worker_context(world, redis, engine, runbooks):
        world.add_file("F1", "payments.log", incident_log(400, 200), channel=PUBLIC)
        share(world, redis, "F1", PUBLIC)
        share(world, redis, "F1", PUBLIC)  # shared again: the ingest job is still known
        assert ingest_queue(redis, QUEUE).count == 1 and queued(redis) == 0
        run_worker_burst(redis)
        assert world.downloads == ["F1"]

        logs_command(world, redis)
        run_worker_burst(redis)
        reply = logs_answer(world)
        assert "`payments.log:201-205`" in json.dumps(reply["blocks"]), "the trace, by its own lines"
        assert world.downloads == ["F1"], "the question read the file from the index, not from Slack"
        # the passage is read back from the indexed chunks: the whole incident, and when it was seen
        assert "PaymentGatewayError: upstream returned 503" in reply["text"]
        assert "Seen once in payments.log, at 2024-05-01T10:30:00Z." in reply["text"]


def test_a_question_never_waits_for_an_ingest_job_of_another_channel(
        world: FakeSlack, redis: Redis, engine: ExtractiveEngine, runbooks: Path) -> None:
    with worker_context(world, redis, engine, runbooks):
        world.add_file("F2", "payments-big.log", incident_log(300, 150), channel=OTHER)
        slow_upload = threading.Event()
        world.held_downloads["F2"] = slow_upload
        share(world, redis, "F2", OTHER)
        stop = threading.Event()
        worker = threading.Thread(target=run_worker, args=(redis, QUEUE), kwargs={"threads": 2, "stop": stop})
        worker.start()
        try:
            started = ingest_queue(redis, QUEUE).started_job_registry
            wait_for(lambda: started.count == 1, what="the ingest job to start")
            thread = ask(world, redis, "how do I fail over the primary postgres database?")
            wait_for(lambda: any(m.get("blocks") for m in world.state.messages[PUBLIC]
                                 if m.get("user") == BOT_USER_ID and m.get("thread_ts") == thread),
                     timeout=60, what="the answer while the ingest job is still reading")
            assert "patronictl" in answer_in(world, PUBLIC, thread)["text"]
            assert started.count == 1 and "F2" not in world.downloads, "the ingest job was still running"
        finally:
            slow_upload.set()
            try:
                finished = ingest_queue(redis, QUEUE).finished_job_registry
                wait_for(lambda: finished.count == 1, timeout=120, what="the ingest job to finish")
            finally:
                stop.set()
                worker.join(30)
        assert not worker.is_alive()
        assert world.downloads == ["F2"]


def test_a_private_channels_file_stays_private_with_the_index_in_place(
        world: FakeSlack, redis: Redis, engine: ExtractiveEngine, runbooks: Path) -> None:
    with worker_context(world, redis, engine, runbooks):
        secret = (b"2024-05-01 10:00:00 INFO start\n2024-05-01 10:00:01 ERROR vault-unseal-key rotation failed on "
                  b"node sec-7\n2024-05-01 10:00:02 INFO done\n")
        world.add_file("F3", "vault.log", secret, channel=PRIVATE)
        share(world, redis, "F3", PRIVATE)
        run_worker_burst(redis)
        assert world.downloads == ["F3"]

        in_public = ask(world, redis, "why did the vault unseal key rotation fail?", PUBLIC, files=["F3"])
        run_worker_burst(redis)
        reply = answer_in(world, PUBLIC, in_public)
        assert "vault" not in reply["text"].lower() and "vault.log" not in json.dumps(reply.get("blocks"))

        in_private = ask(world, redis, "why did the vault unseal key rotation fail?", PRIVATE, files=["F3"])
        run_worker_burst(redis)
        assert "vault-unseal-key rotation failed" in answer_in(world, PRIVATE, in_private)["text"]
        assert world.downloads == ["F3"], "both questions read the file from the index"


def test_a_gzipped_log_of_megabytes_is_answered_with_the_incident_in_its_middle(
        world: FakeSlack, redis: Redis, engine: ExtractiveEngine, runbooks: Path) -> None:
    with worker_context(world, redis, engine, runbooks):
        lines = 60_000
        data = gzip.compress(incident_log(lines, lines // 2))
        assert len(gzip.decompress(data)) > 5_000_000
        world.add_file("F4", "checkout.log.gz", data, channel=PUBLIC, mimetype="application/gzip")
        logs_command(world, redis)
        run_worker_burst(redis)
        reply = logs_answer(world)
        first = lines // 2 + 1
        assert f"`checkout.log.gz:{first}-{first + 4}`" in json.dumps(reply["blocks"])
        assert "PaymentGatewayError" in reply["text"]
        assert "read all of them" in json.dumps(reply["blocks"]), "the note says what was folded"


def incident_log(lines: int, at: int, seed: int = 5) -> bytes:
    """``lines`` quiet request lines with a Python stack trace (5 lines) starting at line ``at + 1``."""
    rng = random.Random(seed)
    out = [f"2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z INFO [checkout.http] request "
           f"id={rng.randrange(10**9)} POST /api/v1/cart/{rng.randrange(1000)} 200 {rng.randrange(300)}ms"
           for i in range(lines)]
    out[at:at] = ["2024-05-01T10:30:00Z ERROR [checkout.pay] checkout failed: PaymentGatewayError: upstream 503",
                  "Traceback (most recent call last):",
                  '  File "/app/checkout/pay.py", line 88, in charge',
                  '    raise PaymentGatewayError("upstream returned 503")',
                  "PaymentGatewayError: upstream returned 503"]
    return ("\n".join(out) + "\n").encode()
