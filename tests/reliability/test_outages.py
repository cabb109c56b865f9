"""Redis going away or stalling, pages that never finish, and a stop request in the middle of a question:
real worker processes, a private ``redis-server`` stopped and started (or frozen with SIGSTOP), the fake
Slack API and a loopback page server. Every question is answered once, or its asker is told plainly that
it failed, and then it is never answered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker
from rq.executions import Execution
from rq.job import Job, JobStatus

from bot.app import build_app
from bot.intake import QUEUE_DOWN
from bot.settings import BotSettings
from jobs.enqueue import NOT_QUEUED, claim_question, enqueue_question, question_queue, queue_question, withdraw_question
from jobs.payload import QuestionJob, job_id_for
from jobs.slack_client import slack_client
from tests.fake_pages import FakePages
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack
from tests.helpers import (
    CHANNEL,
    QUEUE,
    bot_messages,
    dispatch,
    make_bot,
    mention_event,
    queued,
    run_worker_burst,
    wait_for,
    worker_context,
)
from tests.reliability.conftest import RedisServer
from tests.reliability.support import python
from tests.slack_requests import SIGNING_SECRET, command_body, event_body
from worker.context import WorkerContext, set_context
from worker.documents.gather import OUT_OF_TIME, OUT_OF_TIME_STOPPING, DocumentGatherer
from worker.documents.links import ChannelLinks
from worker.documents.pages import PageFetcher
from worker.documents.runbooks import RunbookFolder
from worker.engine.default import ExtractiveEngine
from worker.job import RETRYING, RETRYING_AFTER_CRASH
from worker.pipeline import AnswerPipeline
from worker.runtime import engine_index

QUESTION = "how do I fail over the primary postgres database?"


@pytest.fixture
def pages() -> Iterator[FakePages]:
    with FakePages() as server:
        yield server


def slow_worker(slack: FakeSlack, redis_url: str, runbooks: Path, tmp_path: Path, *args: str,
                threads: int = 1) -> subprocess.Popen[bytes]:
    """A real worker process (tests/reliability/slow_worker.py) whose log goes to ``tmp_path/worker.log``."""
    return python("-m", "tests.reliability.slow_worker", "--redis-url", redis_url, "--queue", QUEUE,
                  "--slack-api-url", slack.api_url, "--runbooks", str(runbooks), "--marker",
                  str(tmp_path / "marker"), "--threads", str(threads), *args, stdout=subprocess.DEVNULL,
                  stderr=(tmp_path / "worker.log").open("wb"))


def stopped(worker: subprocess.Popen[bytes], within_s: float = 20) -> int:
    """SIGTERM the worker and wait for it, ``within_s`` at most (then SIGKILL); its exit status."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=within_s)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return worker.returncode


def log_of(tmp_path: Path) -> str:
    return (tmp_path / "worker.log").read_text(errors="replace")[-3000:]


def job_status(connection: Redis, job_id: str) -> JobStatus | None:
    return Job.fetch(job_id, connection=connection, serializer=question_queue(connection).serializer).get_status()


def answered(slack: FakeSlack, thread_ts: str) -> list[dict]:
    return [m for m in bot_messages(slack, thread_ts=thread_ts) if "Answered by" in json.dumps(m.get("blocks"))
            or m["text"].startswith("slow answer to:")]


# ---- a worker rides out Redis outages ---------------------------------------------------------------------

@pytest.mark.parametrize("threads", [1, 3], ids=["simple-worker", "job-threads"])
def test_a_redis_outage_while_a_job_finishes_ends_neither_the_job_thread_nor_the_worker(
        slack: FakeSlack, redis_server: RedisServer, runbooks: Path, tmp_path: Path, threads: int) -> None:
    """Redis shuts down while the engine answers, and stays down 3 s after the answer is posted: the job is
    then recorded as done (not failed, not retried), the worker keeps its threads and answers the next
    question, and a SIGTERM still stops it cleanly. RQ alone quit the work loop here."""
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    connection = Redis.from_url(redis_server.url)
    worker = slow_worker(slack, redis_server.url, runbooks, tmp_path, "--seconds", "2", threads=threads)
    try:
        wait_for(lambda: len(Worker.all(queue=question_queue(connection, QUEUE))) == threads, timeout=60,
                 what="the worker to listen")
        first = mention_event(slack, f"<@{BOT_USER_ID}> {QUESTION}")
        dispatch(make_bot(slack, connection), event_body(first, "Ev1"))
        wait_for((tmp_path / "marker").exists, timeout=60, what="the job to reach the engine")
        redis_server.shutdown()
        wait_for(lambda: answered(slack, first["ts"]), timeout=30, what="the answer, posted while Redis is down")
        time.sleep(3)  # the outage goes on while the job is being recorded as done
        redis_server.start()
        connection = Redis.from_url(redis_server.url)
        job_id = job_id_for(CHANNEL, first["ts"])
        wait_for(lambda: job_status(connection, job_id) == JobStatus.FINISHED, timeout=60,
                 what="the job to be recorded as done once Redis is back")
        assert worker.poll() is None, log_of(tmp_path)

        second = mention_event(slack, "<@UBOT> how do I renew the TLS certificate?")
        dispatch(make_bot(slack, connection), event_body(second, "Ev2"))
        wait_for(lambda: answered(slack, second["ts"]), timeout=60, what="the same worker to answer again")
    finally:
        code = stopped(worker)
    assert code == 0, log_of(tmp_path)
    for event in (first, second):
        assert len(bot_messages(slack, thread_ts=event["ts"])) == 1, "one message per question, edited"
    updates = [call.args.get("text", "") for call in slack.calls_to("chat.update")]
    assert not any(RETRYING in text or RETRYING_AFTER_CRASH in text for text in updates), updates
    assert len(updates) == 2


def test_an_answered_question_found_abandoned_is_neither_overwritten_nor_answered_again(
        world: FakeSlack, redis: Redis) -> None:
    """What a worker leaves behind when it posts the answer and then dies or loses Redis for good before RQ
    records the job as done: the job still "started", its heartbeat expired. RQ's registry maintenance then
    calls the failure callback and retries the job; neither may touch the posted answer."""
    event = mention_event(world, f"<@{BOT_USER_ID}> {QUESTION}")
    dispatch(make_bot(world, redis), event_body(event))
    wait_for(lambda: queued(redis) == 1, what="the job")
    run_worker_burst(redis)
    [answer] = bot_messages(world, thread_ts=event["ts"])
    assert "Database failover" in json.dumps(answer["blocks"])

    job = Job.fetch(job_id_for(CHANNEL, event["ts"]), connection=redis, serializer=question_queue(redis).serializer)
    with redis.pipeline() as pipeline:
        job.set_status(JobStatus.STARTED, pipeline=pipeline)
        Execution.create(job, ttl=1, pipeline=pipeline)
        pipeline.execute()
    question_queue(redis, QUEUE).started_job_registry.cleanup(timestamp=time.time() + 3600)
    assert queued(redis) == 1, "RQ retried the job it took for abandoned"
    run_worker_burst(redis)

    [message] = bot_messages(world, thread_ts=event["ts"])
    assert message["text"] == answer["text"] and message["blocks"] == answer["blocks"]
    assert len(world.calls_to("chat.update")) == 1, "only the answer ever edited the placeholder"


# ---- deadlines hold ------------------------------------------------------------------------------------------

def test_a_page_sending_one_header_a_second_cannot_hold_a_question_past_its_deadline(
        slack: FakeSlack, redis: Redis, engine: ExtractiveEngine, runbooks: Path, pages: FakePages) -> None:
    """Two linked pages each send one header a second for two minutes, and a page may take 120 s: the job
    (20 s timeout, 5 s of it for gathering) answers from the runbooks within seconds, and says why the
    pages are missing. Before, the user saw "Looking…" for two minutes, and the retry did it again."""
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    for n in (1, 2):
        slack.add_message(CHANNEL, f"failover notes: <{pages.url(f'/slow-headers?{n}')}>", ts=f"{time.time():.6f}")
    client = slack_client(BOT_TOKEN, slack.api_url)
    links = ChannelLinks(client, PageFetcher((pages.host,), timeout_s=120, max_bytes=100_000), recent_messages=20,
                         max_links=5, window_s=3600)
    gatherer = DocumentGatherer([RunbookFolder(runbooks), links], client=client)
    set_context(WorkerContext(pipeline=AnswerPipeline(gatherer, engine, engine_index(engine, redis)), slack=client,
                              redis=redis))
    try:
        settings = BotSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
                               queue_name=QUEUE, job_timeout=20)
        event = mention_event(slack, f"<@{BOT_USER_ID}> {QUESTION}")
        dispatch(build_app(settings, redis=redis), event_body(event))
        wait_for(lambda: queued(redis) == 1, what="the job")
        started = time.monotonic()
        run_worker_burst(redis)
        took = time.monotonic() - started
    finally:
        set_context(None)
    assert took < 12, f"{took:.1f} s"
    [answer] = bot_messages(slack, thread_ts=event["ts"])
    blocks = json.dumps(answer["blocks"])
    assert "Database failover" in blocks and OUT_OF_TIME in blocks
    assert sorted(pages.paths_requested()) == ["/slow-headers?1", "/slow-headers?2"], "fetched once each"


@pytest.mark.parametrize("threads", [1, 3], ids=["simple-worker", "job-threads"])
def test_sigterm_stops_a_worker_within_seconds_even_mid_gather(
        slack: FakeSlack, redis: Redis, runbooks: Path, tmp_path: Path, pages: FakePages, threads: int) -> None:
    """The job is waiting on a page that sends one header a second (and may take 120 s): SIGTERM brings its
    deadline forward, the question is answered from what was read, and the process exits 0 within 10 s."""
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    slack.add_message(CHANNEL, f"see <{pages.url('/slow-headers')}>", ts=f"{time.time():.6f}")
    worker = slow_worker(slack, os.environ.get("CHATOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), runbooks,
                         tmp_path, "--seconds", "0", "--links-host", pages.host, "--fetch-timeout", "120",
                         threads=threads)
    try:
        wait_for(lambda: len(Worker.all(queue=question_queue(redis, QUEUE))) == threads, timeout=60,
                 what="the worker to listen")
        event = mention_event(slack, f"<@{BOT_USER_ID}> {QUESTION}")
        dispatch(make_bot(slack, redis), event_body(event))
        wait_for(lambda: "/slow-headers" in pages.paths_requested(), timeout=60, what="the job to fetch the page")
        time.sleep(0.5)  # well inside the fetch
        worker.send_signal(signal.SIGTERM)
        started = time.monotonic()
        worker.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        code = stopped(worker)
    assert code == 0, log_of(tmp_path)
    assert took < 10, f"{took:.1f} s"
    [answer] = bot_messages(slack, thread_ts=event["ts"])
    assert answer["text"].startswith("slow answer to:") and OUT_OF_TIME_STOPPING in json.dumps(answer["blocks"])


# ---- the bot: Redis stalls or is down ------------------------------------------------------------------------

def test_a_stalled_redis_delays_no_ack_and_no_question_the_user_was_told_failed_is_answered(
        slack: FakeSlack, redis_server: RedisServer, engine: ExtractiveEngine, runbooks: Path) -> None:
    """Redis is frozen (SIGSTOP: connections open, no replies) while 40 ``/ask`` arrive at once. Every one is
    acked within Slack's 3 s and its asker is told, privately, that it could not be queued. When Redis
    wakes up it carries out the commands that timed out: none of those questions is answered. The user who
    asks again gets one answer."""
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    assert redis_server.process is not None
    settings = BotSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
                           queue_name=QUEUE, redis_url=redis_server.url, redis_timeout_s=1.0)
    app = build_app(settings)
    connection = Redis.from_url(redis_server.url)
    dispatch(app, command_body("/ask", "warm up", trigger_id="warm"), "application/x-www-form-urlencoded")
    wait_for(lambda: str(connection.get("chatops:claim:q-warm")).startswith("b'queued:"),
             what="the warm-up question to be queued")
    acks: list[tuple[int, float]] = []

    def ask(n: int) -> None:
        body = command_body("/ask", f"{QUESTION} ({n})", trigger_id=f"stall-{n}",
                            response_url=f"{slack.base_url}/response_url/stall-{n}")
        started = time.monotonic()
        response = dispatch(app, body, "application/x-www-form-urlencoded")
        acks.append((response.status, time.monotonic() - started))

    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        askers = [threading.Thread(target=ask, args=(n,)) for n in range(40)]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join()
        told = lambda: [c for c in slack.calls_to("response_url") if c.args.get("text") == QUEUE_DOWN]  # noqa: E731
        wait_for(lambda: len(told()) == 40, timeout=60, what="every asker to be told")
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    assert [status for status, _ in acks] == [200] * 40
    assert max(took for _, took in acks) < 3.0, sorted(took for _, took in acks)[-5:]

    wait_for(lambda: connection.ping(), what="Redis to answer again")
    with worker_context(slack, connection, engine, runbooks):
        run_worker_burst(connection)
        assert not any("(3" in m["text"] for m in bot_messages(slack)), "no stalled question was answered"
        before = len(bot_messages(slack))
        dispatch(app, command_body("/ask", QUESTION, trigger_id="again"), "application/x-www-form-urlencoded")
        wait_for(lambda: queued(connection) == 1, what="the question asked again")
        run_worker_burst(connection)
    new = bot_messages(slack)[before:]
    assert len(new) == 1 and "Database failover" in json.dumps(new[0]["blocks"])
    assert sum("Answered by" in json.dumps(m.get("blocks")) for m in bot_messages(slack)) == 2, "warm-up and retry"


def test_a_follow_up_in_a_bot_thread_is_answered_when_redis_is_down(
        slack: FakeSlack, redis_server: RedisServer) -> None:
    """The thread check needs Redis; without it the thread itself shows the bot took part, and the user is
    told the queue is down, in the thread. Before, the listener raised and the user heard nothing."""
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    root = slack.add_message(CHANNEL, "checkout is down")
    slack.add_message(CHANNEL, "Answered: restart the pods", user=BOT_USER_ID, thread_ts=root["ts"])
    settings = BotSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
                           queue_name=QUEUE, redis_url=redis_server.url, redis_timeout_s=0.5)
    app = build_app(settings)
    redis_server.kill()
    follow_up = slack.add_message(CHANNEL, "and if that does not help?", thread_ts=root["ts"])
    elsewhere = slack.add_message(CHANNEL, "unrelated", thread_ts=slack.add_message(CHANNEL, "other")["ts"])
    for n, message in enumerate((follow_up, elsewhere)):
        event = {"type": "message", "channel": CHANNEL, "channel_type": "channel", "user": "U1",
                 "text": message["text"], "ts": message["ts"], "thread_ts": message["thread_ts"]}
        assert dispatch(app, event_body(event, f"Ev{n}")).status == 200
    wait_for(lambda: len(bot_messages(slack, thread_ts=root["ts"])) == 2, timeout=20, what="a reply in the thread")
    assert bot_messages(slack, thread_ts=root["ts"])[-1]["text"] == QUEUE_DOWN
    assert not bot_messages(slack, thread_ts=elsewhere["thread_ts"]), "not a thread of the bot: no reply"


# ---- the claim protocol, seen from the worker -----------------------------------------------------------------

@pytest.mark.parametrize("how", ["withdrawn", "never confirmed"])
def test_a_question_whose_claim_was_withdrawn_or_never_confirmed_is_not_answered(
        world: FakeSlack, redis: Redis, how: str) -> None:
    root = world.add_message(CHANNEL, QUESTION)
    placeholder = world.add_message(CHANNEL, "Looking…", user=BOT_USER_ID, thread_ts=root["ts"])
    claim = claim_question(redis, "q-protocol", lease_s=1)
    assert claim is not None
    job = QuestionJob(question=QUESTION, channel=CHANNEL, user="U1", thread_ts=root["ts"],
                      placeholder_ts=placeholder["ts"], claim_token=claim.token)
    if how == "withdrawn":  # queued and confirmed, then withdrawn: the bot told the user it failed
        queue_question(question_queue(redis, QUEUE), job, claim)
        assert withdraw_question(redis, claim, until=time.monotonic() + 5)
    else:  # enqueued, but the confirmation never landed: the claim's lease runs out
        enqueue_question(question_queue(redis, QUEUE), job, "q-protocol")
    run_worker_burst(redis)
    [message] = bot_messages(world, thread_ts=root["ts"])
    assert message["text"] == f":warning: {NOT_QUEUED}"
    assert job_status(redis, "q-protocol") == JobStatus.FINISHED
