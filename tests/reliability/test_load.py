"""The load test (bench/load_test.py), small: 40 questions across 4 channels, all at once, through the
Bolt app, a real Redis and two real ``python -m worker`` processes with the default engine."""

from __future__ import annotations

import load_test  # bench/ is on the tests' path (pyproject.toml), as on mypy's
from redis import Redis

from tests.conftest import REDIS_URL


def test_forty_questions_two_workers_each_answered_exactly_once(redis: Redis) -> None:
    config = load_test.LoadConfig(questions=40, channels=4, workers=2, job_threads=4, rate=0, retry_every=5,
                                  timeout_s=120, redis_url=REDIS_URL)
    result = load_test.run_load(config)
    report = load_test.format_report(result)
    assert result.ok, report
    assert result.exactly_once == 40 and len(result.latencies) == 40
    assert result.unanswered == result.answered_twice == result.extra_messages == result.failures_shown == 0
    assert result.retries_sent == 8
    assert max(queued for _, queued, _, _ in result.depth) > 0, "the questions did wait in the queue"
    assert result.depth[-1][1:] == (0, 0, 40)
    assert "event -> answer p95" in report and "| t (s) | queued | running | answered |" in report
    assert not list(redis.scan_iter(match="*chatops-load-*")), "the run cleaned up after itself"
