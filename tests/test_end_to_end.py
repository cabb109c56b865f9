"""Slack event -> Bolt app -> Redis/RQ -> worker (burst) -> one threaded answer, on real parts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job
from rq.registry import FailedJobRegistry

from bot.questions import USAGE
from jobs.enqueue import question_queue
from jobs.payload import job_id_for
from tests.fake_slack import BOT_USER_ID, FakeSlack
from tests.helpers import (
    CHANNEL,
    QUEUE,
    answered_mention,
    bot_messages,
    dispatch,
    make_bot,
    mention_event,
    queued,
    run_worker_burst,
    wait_for,
    worker_context,
)
from tests.slack_requests import command_body, event_body
from worker.documents.document import Chunk
from worker.engine.base import Answer, Question


def test_mention_is_answered_once_in_thread_citing_the_right_runbook(world: FakeSlack, redis: Redis) -> None:
    app = make_bot(world, redis)
    event = mention_event(world, f"<@{BOT_USER_ID}> how do I fail over the primary postgres database?")
    response = dispatch(app, event_body(event))
    assert response.status == 200
    wait_for(lambda: queued(redis) == 1, what="the job to be queued")

    # the bot showed progress in the thread before any worker ran
    replies = bot_messages(world)
    assert len(replies) == 1 and replies[0]["thread_ts"] == event["ts"]
    assert "Looking through" in replies[0]["text"]

    run_worker_burst(redis)

    replies = bot_messages(world)
    assert len(replies) == 1, "the placeholder is edited into the answer, not a second message"
    blocks = json.dumps(replies[0]["blocks"])
    assert "Database failover" in blocks
    assert "db-failover.md" in blocks
    sources = next(b for b in replies[0]["blocks"] if "*Sources*" in b.get("text", {}).get("text", ""))
    first_source = sources["text"]["text"].split("\n")[1]
    assert "Database failover" in first_source, first_source
    assert "patronictl" in replies[0]["text"]
    assert len(world.calls_to("chat.update")) == 1
    job = Job.fetch(job_id_for(CHANNEL, event["ts"]), connection=redis,
                    serializer=question_queue(redis, QUEUE).serializer)
    assert job.is_finished
    result = job.return_value()
    assert result is not None
    assert result["citations"][0]["chunk"].startswith("runbook:db-failover.md")


def test_twin_events_and_retries_are_answered_once(world: FakeSlack, redis: Redis) -> None:
    app = make_bot(world, redis)
    event = mention_event(world, f"<@{BOT_USER_ID}> what do I check when payments latency is high?")
    twin = {**event, "type": "message", "channel_type": "channel"}
    dispatch(app, event_body(event, "Ev1"))
    dispatch(app, event_body(event, "Ev1"), headers={"x-slack-retry-num": "1",
                                                     "x-slack-retry-reason": "http_timeout"})
    dispatch(app, event_body(twin, "Ev2"))
    wait_for(lambda: queued(redis) == 1, what="one job")
    run_worker_burst(redis)
    replies = bot_messages(world)
    assert len(replies) == 1
    assert "Payments API latency" in json.dumps(replies[0]["blocks"])
    assert queued(redis) == 0


def test_slash_command_posts_question_and_answer_in_channel(world: FakeSlack, redis: Redis) -> None:
    app = make_bot(world, redis)
    response = dispatch(app, command_body("/ask", "how do I renew the TLS certificate?"),
                        content_type="application/x-www-form-urlencoded")
    assert response.status == 200
    wait_for(lambda: queued(redis) == 1, what="the job")
    run_worker_burst(redis)
    replies = bot_messages(world)
    assert len(replies) == 1
    assert "TLS certificate expiry" in json.dumps(replies[0]["blocks"])
    assert "thread_ts" not in replies[0]


def test_direct_message_is_answered(world: FakeSlack, redis: Redis) -> None:
    app = make_bot(world, redis)
    message = world.add_message("D1", "how do I promote the postgres replica?")
    event = {"type": "message", "channel_type": "im", "user": "U1", "text": message["text"],
             "ts": message["ts"], "channel": "D1"}
    dispatch(app, event_body(event))
    wait_for(lambda: queued(redis) == 1, what="the job")
    run_worker_burst(redis)
    replies = bot_messages(world, "D1")
    assert len(replies) == 1
    assert "Database failover" in json.dumps(replies[0]["blocks"])


def test_follow_up_in_a_bot_thread_is_answered_and_other_threads_are_ignored(
    world: FakeSlack, redis: Redis
) -> None:
    app = make_bot(world, redis)
    first = answered_mention(app, world, redis, "how do I fail over the database?", "Ev10")

    follow = world.add_message(CHANNEL, "and how do I roll back payments-api?", thread_ts=first["ts"])
    dispatch(app, event_body({"type": "message", "channel_type": "channel", "user": "U1",
                              "text": follow["text"], "ts": follow["ts"], "thread_ts": first["ts"],
                              "channel": CHANNEL}, "Ev11"))
    other = world.add_message(CHANNEL, "unrelated chatter", thread_ts="1600000000.000100")
    dispatch(app, event_body({"type": "message", "channel_type": "channel", "user": "U2",
                              "text": other["text"], "ts": other["ts"], "thread_ts": "1600000000.000100",
                              "channel": CHANNEL}, "Ev12"))
    wait_for(lambda: queued(redis) == 1, what="the follow-up job")
    run_worker_burst(redis)
    replies = [m for m in bot_messages(world) if m.get("thread_ts") == first["ts"]]
    assert len(replies) == 2
    assert "Payments API latency" in json.dumps(replies[1]["blocks"])
    assert len(bot_messages(world)) == 2


def test_empty_question_gets_a_usage_hint_and_no_job(world: FakeSlack, redis: Redis) -> None:
    app = make_bot(world, redis)
    event = mention_event(world, f"<@{BOT_USER_ID}>   ")
    dispatch(app, event_body(event))
    wait_for(lambda: bot_messages(world), what="the usage hint")
    assert queued(redis) == 0
    assert bot_messages(world)[0]["text"] == USAGE


def test_empty_slash_command_answers_privately(world: FakeSlack, redis: Redis) -> None:
    app = make_bot(world, redis)
    response_url = world.base_url + "/response_url/abc"
    dispatch(app, command_body("/runbook", "  ", response_url=response_url),
             content_type="application/x-www-form-urlencoded")
    wait_for(lambda: world.calls_to("response_url"), what="the ephemeral hint")
    hint = world.calls_to("response_url")[0].args
    assert hint["response_type"] == "ephemeral" and "/runbook" in hint["text"]
    assert queued(redis) == 0 and not bot_messages(world)


class ExplodingEngine:
    name = "exploding"
    max_chunk_tokens = 200

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def answer(self, question: str, chunks: Sequence[Chunk]) -> Answer:
        raise RuntimeError("CUDA error: device-side assert triggered")

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(q.text, list(q.chunks)) for q in questions]


@pytest.fixture
def exploding_world(slack: FakeSlack, redis: Redis, runbooks: Path) -> Iterator[FakeSlack]:
    """The fake workspace with channel C1; this process a worker whose engine fails every call."""
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    with worker_context(slack, redis, ExplodingEngine(), runbooks):
        yield slack


def test_worker_exception_turns_placeholder_into_a_clear_failure(exploding_world: FakeSlack, redis: Redis) -> None:
    slack = exploding_world
    event = mention_event(slack, f"<@{BOT_USER_ID}> how do I fail over?")
    dispatch(make_bot(slack, redis), event_body(event))
    wait_for(lambda: queued(redis) == 1, what="the job")
    run_worker_burst(redis)
    replies = bot_messages(slack)
    assert len(replies) == 1
    assert "Something went wrong" in replies[0]["text"]
    assert "CUDA" not in replies[0]["text"], "internal errors are not shown to users"
    assert len(FailedJobRegistry(QUEUE, connection=redis)) == 1


def test_runbook_command_answers_from_the_matching_section_without_the_engine(
    exploding_world: FakeSlack, redis: Redis
) -> None:
    slack = exploding_world  # any engine call would fail the job
    dispatch(make_bot(slack, redis), command_body("/runbook", "database failover"),
             content_type="application/x-www-form-urlencoded")
    wait_for(lambda: queued(redis) == 1, what="the job")
    run_worker_burst(redis)
    replies = bot_messages(slack)
    assert len(replies) == 1
    blocks = json.dumps(replies[0]["blocks"])
    assert "runbook lookup" in blocks and "patronictl switchover" in replies[0]["text"]
    assert "db-failover.md" in blocks
