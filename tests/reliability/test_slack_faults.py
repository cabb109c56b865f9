"""Slack API faults on the worker's and the bot's calls: 429 with Retry-After is honoured, 5xx and
timeouts are retried with backoff, a deleted placeholder gets a new reply; each question still gets
exactly one answer."""

from __future__ import annotations

import json
from pathlib import Path

from redis import Redis

from bot.intake import WORKING
from jobs.slack_client import slack_client
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack, Fault
from tests.helpers import bot_messages, dispatch, make_bot, mention_event, queued, run_worker_burst, wait_for
from tests.slack_requests import event_body
from worker.context import current_context

QUESTION = f"<@{BOT_USER_ID}> how do I fail over the primary postgres database?"


def ask(slack: FakeSlack, redis: Redis) -> dict:
    event = mention_event(slack, QUESTION)
    dispatch(make_bot(slack, redis), event_body(event))
    wait_for(lambda: queued(redis) == 1, what="the job")
    return event


def assert_answered_once(slack: FakeSlack, event: dict) -> dict:
    [answer] = bot_messages(slack, thread_ts=event["ts"])
    assert "Database failover" in json.dumps(answer["blocks"]) and "patronictl" in answer["text"]
    assert len(bot_messages(slack)) == 1
    return answer


def call_times(slack: FakeSlack, method: str) -> list[float]:
    return [c.at for c in slack.calls_to(method)]


def test_rate_limited_update_waits_for_retry_after_then_answers_once(world: FakeSlack, redis: Redis) -> None:
    event = ask(world, redis)
    world.fail_next("chat.update", Fault(status=429, retry_after=2))
    run_worker_burst(redis)
    assert_answered_once(world, event)
    first, second = call_times(world, "chat.update")
    assert second - first >= 2.0, "the SDK's rate-limit handler waits Retry-After seconds"


def test_rate_limited_placeholder_post_on_the_bot_side_is_retried(world: FakeSlack, redis: Redis) -> None:
    world.fail_next("chat.postMessage", Fault(status=429, retry_after=1))
    event = ask(world, redis)
    first, second = call_times(world, "chat.postMessage")
    assert second - first >= 1.0
    [placeholder] = bot_messages(world)
    assert placeholder["text"] == WORKING
    run_worker_burst(redis)
    assert assert_answered_once(world, event)["ts"] == placeholder["ts"]


def test_server_errors_are_retried_with_backoff(world: FakeSlack, redis: Redis) -> None:
    event = ask(world, redis)
    world.fail_next("chat.update", Fault(status=500), Fault(status=503))
    run_worker_burst(redis)
    assert_answered_once(world, event)
    times = call_times(world, "chat.update")
    assert len(times) == 3
    # the SDK's backoff: 0.5 s * 2**attempt plus up to 1 s of random jitter
    assert 0.5 <= times[1] - times[0] < 2.0, "first retry after 0.5-1.5 s"
    assert 1.0 <= times[2] - times[1] < 2.5, "second retry after 1.0-2.0 s"


def test_server_errors_beyond_the_sdk_retries_fail_the_job_once_and_rq_retries_it(
    world: FakeSlack, redis: Redis
) -> None:
    event = ask(world, redis)
    world.fail_next("chat.update", *[Fault(status=500)] * 3)  # the SDK tries 3 times, then gives up
    run_worker_burst(redis)  # the job fails, report_failure says "trying once more", the retry answers
    assert_answered_once(world, event)
    texts = [c.args["text"] for c in world.calls_to("chat.update")[3:]]
    assert "trying once more" in texts[0] and "patronictl" in texts[-1]


def test_timeouts_are_retried(world: FakeSlack, redis: Redis) -> None:
    context = current_context()
    context.slack = slack_client(BOT_TOKEN, world.api_url, timeout=1)
    event = ask(world, redis)
    world.fail_next("chat.update", Fault(delay=1.5))  # the first edit times out on the client
    run_worker_burst(redis)
    assert_answered_once(world, event)
    assert len(world.calls_to("chat.update")) == 2
    assert len(world.calls_to("chat.postMessage")) == 1, "no job-level retry was needed"


def test_timed_out_placeholder_post_still_queues_the_question(world: FakeSlack, redis: Redis, runbooks: Path) -> None:
    app = make_bot(world, redis)
    app.client.timeout = 1
    world.fail_next("chat.postMessage", Fault(delay=1.5))  # not retried: it may have been posted
    event = mention_event(world, QUESTION)
    dispatch(app, event_body(event))
    wait_for(lambda: queued(redis) == 1, timeout=20, what="the job, queued without a placeholder")
    world.wait_for_answers()  # the slow post lands late on the server: a stale placeholder
    run_worker_burst(redis)
    replies = [m for m in bot_messages(world, thread_ts=event["ts"]) if m["text"] != WORKING]
    assert len(replies) == 1 and "patronictl" in replies[0]["text"]
    posts = [c.args.get("text") for c in world.calls_to("chat.postMessage")]
    assert posts.count(WORKING) == 1, f"the timed-out placeholder post was not retried: {posts}"
    assert len(posts) == 2, "the placeholder, then the answer as a new reply"
    assert world.calls_to("chat.update") == [], "no placeholder ts was known, so none was edited"
    assert [m["text"] for m in bot_messages(world)].count(WORKING) == 1, "only the late, stale placeholder"


def test_deleted_placeholder_gets_a_new_reply_in_the_thread(world: FakeSlack, redis: Redis) -> None:
    event = ask(world, redis)
    [placeholder] = bot_messages(world)
    world.state.messages["C1"].remove(placeholder)  # someone deleted the bot's "working" message
    run_worker_burst(redis)
    answer = assert_answered_once(world, event)
    assert answer["ts"] != placeholder["ts"] and answer["thread_ts"] == event["ts"]


def test_placeholder_not_found_error_posts_a_new_reply(world: FakeSlack, redis: Redis) -> None:
    event = ask(world, redis)
    world.fail_next("chat.update", Fault(error="message_not_found"))
    run_worker_burst(redis)
    replies = bot_messages(world, thread_ts=event["ts"])
    assert replies[0]["text"] == WORKING  # still there in this fake: Slack said it was gone
    assert len(replies) == 2 and "patronictl" in replies[1]["text"]
    assert len(world.calls_to("chat.update")) == 1, "no retry edits the placeholder as well"
