"""The vote and activity records in real Redis: atomic under concurrent clicks, windows by time."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from redis import Redis

from jobs import activity
from jobs.feedback import AnswerRecord, Counts, recent_counts, record_answer, record_vote, votes


def record(answered_at: float) -> AnswerRecord:
    return AnswerRecord(answer_id="q-C1-1", question="why?", channel="C1", user="U1", engine="e",
                        answered_at=answered_at, chunks=("runbook:a.md#L1-L5",))


def test_concurrent_clicks_of_one_user_count_once(redis: Redis) -> None:
    answer = record(time.time())
    record_answer(redis, answer)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: record_vote(redis, answer, "U1", "helpful"), range(40)))
        assert recent_counts(redis, ["C1"])["C1"] == Counts(helpful=1, not_helpful=0)
        list(pool.map(lambda i: record_vote(redis, answer, "U1", ("helpful", "not_helpful")[i % 2]), range(41)))
    [(user, vote)] = votes(redis, answer.answer_id).items()
    expected = Counts(helpful=1) if vote.vote == "helpful" else Counts(not_helpful=1)
    assert user == "U1" and recent_counts(redis, ["C1"])["C1"] == expected, "one vote, whichever came last"


def test_recent_counts_cover_the_last_week_of_answers(redis: Redis) -> None:
    now = time.time()
    old, recent = record(now - 8 * 86400), record(now - 6 * 86400)
    record_vote(redis, old, "U1", "helpful", now=now)
    record_vote(redis, AnswerRecord(**{**recent.__dict__, "answer_id": "q-C1-2"}), "U1", "not_helpful", now=now)
    assert recent_counts(redis, ["C1"], now=now)["C1"] == Counts(helpful=0, not_helpful=1)


def test_answers_and_failures_are_counted_over_the_last_hour(redis: Redis) -> None:
    now = 1_700_000_000.0
    activity.count(redis, activity.ANSWERED, now=now - 3600)  # just over an hour ago
    activity.count(redis, activity.ANSWERED, now=now - 3540)
    activity.count(redis, activity.ANSWERED, now=now)
    activity.count(redis, activity.FAILED, now=now - 10)
    assert activity.last_hour(redis, activity.ANSWERED, now=now) == 2
    assert activity.last_hour(redis, activity.FAILED, now=now) == 1
