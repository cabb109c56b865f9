"""A worker SIGKILLed mid-job, and Redis restarting while jobs wait: the question is still answered
exactly once, or the user is told it failed; never silence, never two answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Worker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.worker import WorkerStatus

from bot.intake import QUEUE_DOWN, WORKING
from jobs.enqueue import question_queue
from jobs.payload import job_id_for
from tests.conftest import REDIS_URL
from tests.fake_slack import BOT_USER_ID, FakeSlack
from tests.helpers import (
    CHANNEL,
    QUEUE,
    bot_messages,
    dispatch,
    drain_listeners,
    make_bot,
    mention_event,
    queued,
    run_worker_burst,
    wait_for,
    worker_context,
)
from tests.reliability.conftest import RedisServer
from tests.reliability.support import REPO, python
from tests.slack_requests import event_body
from worker.engine.default import ExtractiveEngine
from worker.job import INTERNAL_ERROR, RETRYING_AFTER_CRASH, UNREPORTED_FAILURES


def worker_log(marker: Path) -> Path:
    """Where the slow worker that writes ``marker`` logs (its stderr)."""
    return marker.with_name(f"{marker.name}.log")


def start_slow_worker(slack: FakeSlack, runbooks: Path, marker: Path, threads: int, seconds: float = 120,
                      heartbeat: int = 20, maintenance: int = 60,
                      release: Path | None = None) -> subprocess.Popen[bytes]:
    held = ["--release", str(release)] if release else []
    with worker_log(marker).open("wb") as log:
        return python("-m", "tests.reliability.slow_worker", "--redis-url", REDIS_URL, "--queue", QUEUE,
                      "--slack-api-url", slack.api_url, "--runbooks", str(runbooks), "--marker", str(marker),
                      "--seconds", str(seconds), *held, "--threads", str(threads), "--heartbeat", str(heartbeat),
                      "--maintenance", str(maintenance), stdout=subprocess.DEVNULL, stderr=log)


def stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM: the worker finishes what it is doing (a job, a registry maintenance), then exits."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def kill_mid_job(slack: FakeSlack, redis: Redis, runbooks: Path, marker: Path, job_id: str,
                 threads: int, heartbeat: int = 20) -> None:
    """Start a real worker process, wait until the job is in its engine, SIGKILL it."""
    marker.unlink(missing_ok=True)
    worker = start_slow_worker(slack, runbooks, marker, threads, heartbeat=heartbeat)
    try:
        wait_for(lambda: marker.exists() or worker.poll() is not None, timeout=60, what="the job to start")
        assert worker.poll() is None, worker_log(marker).read_text(errors="replace")[-2000:]
        job = Job.fetch(job_id, connection=redis, serializer=question_queue(redis, QUEUE).serializer)
        assert job.get_status() == JobStatus.STARTED
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL


def ask_and_wait_for_the_job(world: FakeSlack, redis: Redis, question: str) -> tuple[dict[str, Any], str]:
    """Mention the bot through the real Bolt app; returns the event and its queued job's id."""
    event = mention_event(world, f"<@{BOT_USER_ID}> {question}")
    dispatch(make_bot(world, redis), event_body(event))
    wait_for(lambda: queued(redis) == 1, what="the job")
    return event, job_id_for(CHANNEL, event["ts"])


def wait_for_registry_cleanup_past(redis: Redis, expiry: float) -> None:
    """Wait until some worker's registry maintenance has cleaned the started-job registry with a cutoff at
    or past ``expiry`` (a Unix time): a registry entry for no job, expiring then, is planted and waited
    out. The cleanup that removes it would also have found, and retried, any job whose registration
    expired by ``expiry`` and was not renewed since."""
    key = question_queue(redis, QUEUE).started_job_registry.key
    probe = "no-such-job:cleanup-probe"
    redis.zadd(key, {probe: expiry})
    wait_for(lambda: redis.zscore(key, probe) is None, timeout=60, what="a registry cleanup past the expiry")


def find_abandoned(redis: Redis) -> None:
    """What a restarted worker's registry maintenance does once the dead worker's heartbeat expired
    (three heartbeat intervals): here with the clock moved an hour on."""
    question_queue(redis, QUEUE).started_job_registry.cleanup(timestamp=time.time() + 3600)


@pytest.mark.parametrize("threads", [1, 3], ids=["simple-worker", "job-threads"])
def test_worker_killed_mid_job_is_answered_once_after_restart(
    world: FakeSlack, redis: Redis, runbooks: Path, tmp_path: Path, threads: int
) -> None:
    event, job_id = ask_and_wait_for_the_job(world, redis, "how do I fail over the primary postgres database?")

    kill_mid_job(world, redis, runbooks, tmp_path / "marker", job_id, threads)
    [placeholder] = bot_messages(world)
    assert placeholder["text"] == WORKING, "nothing was answered before the kill"

    find_abandoned(redis)  # runs report_failure here (this process has the worker context) and retries
    [notice] = bot_messages(world)
    assert notice["ts"] == placeholder["ts"] and notice["text"] == f":warning: {RETRYING_AFTER_CRASH}"
    assert queued(redis) == 1, "the abandoned job is back on the queue for its one retry"

    run_worker_burst(redis)  # the restarted worker (default engine in this process)

    [answer] = bot_messages(world, thread_ts=event["ts"])
    assert answer["ts"] == placeholder["ts"], "the placeholder is edited, no second message"
    assert "Database failover" in json.dumps(answer["blocks"]) and "patronictl" in answer["text"]
    assert len(world.calls_to("chat.postMessage")) == 1
    job = Job.fetch(job_id, connection=redis, serializer=question_queue(redis, QUEUE).serializer)
    assert job.is_finished
    result = job.return_value()
    assert result is not None and result["answered"] is True


def test_a_restarted_worker_finds_the_abandoned_job_by_itself(
    world: FakeSlack, redis: Redis, runbooks: Path, tmp_path: Path
) -> None:
    """No clock moved: the dead worker's job heartbeat (1 s, so 3 s to expire) runs out, and the
    restarted worker's own registry maintenance (every second) retries the job and answers it."""
    _, job_id = ask_and_wait_for_the_job(world, redis, "how do I fail over the primary postgres database?")
    kill_mid_job(world, redis, runbooks, tmp_path / "marker", job_id, threads=1, heartbeat=1)

    killed_at = time.monotonic()
    restarted = start_slow_worker(world, runbooks, tmp_path / "marker2", threads=2, seconds=0,
                                  heartbeat=1, maintenance=1)
    try:
        wait_for(lambda: bot_messages(world)[0]["text"].startswith("slow answer to:"), timeout=60,
                 what="the restarted worker to answer the abandoned question")
    finally:
        stop(restarted)
    assert time.monotonic() - killed_at < 30
    [answer] = bot_messages(world)
    assert "fail over the primary postgres database" in answer["text"]
    assert len(world.calls_to("chat.postMessage")) == 1, "one placeholder, edited; no second message"
    texts = [call.args.get("text", "") for call in world.calls_to("chat.update")]
    assert texts.count(f":warning: {RETRYING_AFTER_CRASH}") == 1, texts


def test_a_long_job_on_a_live_worker_is_not_taken_for_abandoned(
    world: FakeSlack, redis: Redis, runbooks: Path, tmp_path: Path
) -> None:
    """The job runs past its 3 s heartbeat expiry, until registry maintenance (every second or two) has
    cleaned the registry after that expiry: the worker has two job threads, so the one not running the
    job stays idle and cleans the registries throughout (a single busy thread would run no maintenance
    until the job is done). The side-thread heartbeat keeps the job registered, so it is neither retried
    nor reported."""
    marker, release = tmp_path / "marker", tmp_path / "release"
    worker = start_slow_worker(world, runbooks, marker, threads=2, seconds=60, heartbeat=1, maintenance=1,
                               release=release)
    try:
        wait_for(lambda: len(Worker.all(queue=question_queue(redis, QUEUE))) == 2, timeout=60,
                 what="both job threads to listen")
        app = make_bot(world, redis)
        event = mention_event(world, f"<@{BOT_USER_ID}> how do I renew the TLS certificate?")
        dispatch(app, event_body(event))
        wait_for(lambda: marker.exists() or worker.poll() is not None, timeout=60, what="the job to start")
        workers = Worker.all(queue=question_queue(redis, QUEUE))
        assert sorted(w.get_state() for w in workers) == [WorkerStatus.BUSY, WorkerStatus.IDLE], \
            "one thread runs the job while the other is idle, running registry maintenance"
        registry = question_queue(redis, QUEUE).started_job_registry
        [(job_id, execution_id)] = registry.get_job_and_execution_ids(cleanup=False)
        assert job_id == job_id_for(CHANNEL, event["ts"])
        registered_until = redis.zscore(registry.key, f"{job_id}:{execution_id}")
        assert isinstance(registered_until, float)
        wait_for_registry_cleanup_past(redis, registered_until)  # the job runs on, unless taken for abandoned
        release.touch()
        wait_for(lambda: bot_messages(world) and bot_messages(world)[0]["text"].startswith("slow answer to:"),
                 timeout=60, what="the slow answer")
    finally:
        stop(worker)  # once it exited, no wrongly retried copy of the job can post or edit any more
    assert worker.returncode == 0, "a warm shutdown: whatever the worker was doing, it finished"
    [answer] = bot_messages(world)
    assert "renew the TLS certificate" in answer["text"]
    assert len(world.calls_to("chat.postMessage")) == 1, "one placeholder, which the answer edits"
    texts = [call.args.get("text", "") for call in world.calls_to("chat.update")]
    assert not any(RETRYING_AFTER_CRASH in t for t in texts), texts
    job = Job.fetch(job_id, connection=redis, serializer=question_queue(redis, QUEUE).serializer)
    assert job.is_finished and job.retries_left == 1


def test_worker_killed_on_the_retry_too_tells_the_user_it_failed(
    world: FakeSlack, redis: Redis, runbooks: Path, tmp_path: Path
) -> None:
    _, job_id = ask_and_wait_for_the_job(world, redis, "how do I renew the TLS certificate?")

    kill_mid_job(world, redis, runbooks, tmp_path / "marker", job_id, threads=1)
    find_abandoned(redis)
    kill_mid_job(world, redis, runbooks, tmp_path / "marker", job_id, threads=1)  # the retry dies too
    find_abandoned(redis)

    [message] = bot_messages(world)
    assert message["text"] == ":warning: " + INTERNAL_ERROR.format(ref=job_id)
    assert queued(redis) == 0
    assert job_id in FailedJobRegistry(QUEUE, connection=redis).get_job_ids()
    run_worker_burst(redis)  # nothing left to do: no second message appears
    assert len(bot_messages(world)) == 1


def test_redis_restart_while_jobs_wait_loses_nothing(
    slack: FakeSlack, redis_server: RedisServer, engine: ExtractiveEngine, runbooks: Path
) -> None:
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    connection = Redis.from_url(redis_server.url)
    app = make_bot(slack, connection)
    events = [mention_event(slack, f"<@{BOT_USER_ID}> {q}") for q in (
        "how do I fail over the primary database?", "what do I check when checkout returns 502?",
        "how do I renew the TLS certificate?", "how do I promote the postgres replica?",
        "how do I roll back payments-api?")]
    for i, event in enumerate(events):
        dispatch(app, event_body(event, f"Ev{i}"))
    wait_for(lambda: queued(connection) == len(events), what="five queued jobs")

    redis_server.shutdown()
    redis_server.start()  # same port, same directory: the append-only file is replayed
    connection = Redis.from_url(redis_server.url)
    assert queued(connection) == len(events)

    # a Slack retry arriving after the restart is still recognised as a duplicate
    app = make_bot(slack, connection)
    dispatch(app, event_body(events[0], "Ev0"), headers={"x-slack-retry-num": "1",
                                                         "x-slack-retry-reason": "http_timeout"})
    drain_listeners(app)
    assert queued(connection) == len(events)
    assert len(slack.calls_to("chat.postMessage")) == len(events), "no second placeholder for the retry"

    with worker_context(slack, connection, engine, runbooks):
        run_worker_burst(connection)
    for event in events:
        [answer] = bot_messages(slack, thread_ts=event["ts"])
        assert "Answered by default" in json.dumps(answer["blocks"]), answer["text"]
    assert len(bot_messages(slack)) == len(events)


def test_redis_down_when_a_question_arrives_tells_the_user(slack: FakeSlack, redis_server: RedisServer) -> None:
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    connection = Redis.from_url(redis_server.url, socket_connect_timeout=0.5, socket_timeout=0.5)
    app = make_bot(slack, connection)
    redis_server.kill()
    event = mention_event(slack, f"<@{BOT_USER_ID}> how do I fail over the database?")
    dispatch(app, event_body(event))
    wait_for(lambda: bot_messages(slack) and bot_messages(slack)[0]["text"] != WORKING, timeout=30,
             what="the placeholder to say the queue is down")
    [message] = bot_messages(slack)
    assert message["text"] == QUEUE_DOWN


@pytest.mark.parametrize("threads", [1, 3], ids=["simple-worker", "job-threads"])
def test_sigterm_finishes_the_current_job_then_exits(
    world: FakeSlack, redis: Redis, runbooks: Path, tmp_path: Path, threads: int
) -> None:
    """A deploy or scale-down (SIGTERM) is a warm shutdown: the job in hand is answered, then the process
    exits promptly, busy or idle; nothing is abandoned."""
    marker = tmp_path / "marker"
    worker = python("-m", "tests.reliability.slow_worker", "--redis-url", REDIS_URL, "--queue", QUEUE,
                    "--slack-api-url", world.api_url, "--runbooks", str(runbooks), "--marker", str(marker),
                    "--seconds", "2", "--threads", str(threads),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        app = make_bot(world, redis)
        event = mention_event(world, f"<@{BOT_USER_ID}> how do I fail over the primary postgres database?")
        dispatch(app, event_body(event))
        wait_for(marker.exists, timeout=60, what="the job to reach the engine")
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)  # RQ's dequeue timeout is minutes: a stuck idle thread would fail this
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0
    [answer] = bot_messages(world, thread_ts=event["ts"])
    assert answer["text"].startswith("slow answer to:")
    assert queued(redis) == 0 and len(question_queue(redis, QUEUE).started_job_registry) == 0

    # idle: a SIGTERM stops it within a few seconds
    worker = python("-m", "tests.reliability.slow_worker", "--redis-url", REDIS_URL, "--queue", QUEUE,
                    "--slack-api-url", world.api_url, "--runbooks", str(runbooks), "--marker", str(marker),
                    "--threads", str(threads), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def listening() -> bool:
            workers = Worker.all(queue=question_queue(redis, QUEUE))
            return len(workers) == threads and all(w.get_state() == WorkerStatus.IDLE for w in workers)

        wait_for(listening, timeout=60, what="every job thread to wait for jobs")
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
        assert time.monotonic() - started < 8
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0


def rq_info() -> str:
    """What an operator runs to watch the queue: the real ``rq info`` command, which also cleans the
    registries, in a process with no worker context and no Slack client."""
    rq = Path(sys.executable).parent / "rq"
    result = subprocess.run([str(rq), "info", "--url", REDIS_URL, QUEUE], capture_output=True, text=True,
                            timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_failure_found_by_rq_info_is_still_told_to_the_user(
    world: FakeSlack, redis: Redis, runbooks: Path, tmp_path: Path
) -> None:
    """``rq info`` finds the dead worker's job abandoned (and retries it) the first time, and failed for good
    the second time: it cannot tell the user, so the next worker's maintenance does, exactly once."""
    _, job_id = ask_and_wait_for_the_job(world, redis, "how do I renew the TLS certificate?")
    registry = question_queue(redis, QUEUE).started_job_registry
    for _ in range(2):
        kill_mid_job(world, redis, runbooks, tmp_path / "marker", job_id, threads=1, heartbeat=1)
        wait_for(lambda: job_id in registry.get_expired_job_ids(), timeout=30,
                 what="three missed 1 s heartbeats to expire the job's registration")
        rq_info()
    [message] = bot_messages(world)
    assert message["text"] == WORKING, "the monitoring tool could not tell anyone"
    assert redis.sismember(UNREPORTED_FAILURES, job_id)
    assert job_id in FailedJobRegistry(QUEUE, connection=redis).get_job_ids()

    run_worker_burst(redis)  # a worker starts: its first maintenance reports the failure
    [message] = bot_messages(world)
    assert message["text"] == ":warning: " + INTERNAL_ERROR.format(ref=job_id)
    assert not redis.sismember(UNREPORTED_FAILURES, job_id)
    run_worker_burst(redis)
    assert len(world.calls_to("chat.update")) == 1, "told once"
