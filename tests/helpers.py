"""Small helpers shared by the end-to-end tests: the bot, the worker context, the workspace, waiting."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from redis import Redis
from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.app import build_app
from bot.metrics import BotMetrics
from bot.settings import BotSettings
from jobs.enqueue import question_queue
from jobs.slack_client import slack_client
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack
from tests.slack_requests import SIGNING_SECRET, event_body, sign
from worker.context import WorkerContext, set_context
from worker.documents.base import Source
from worker.documents.gather import DocumentGatherer
from worker.documents.redact import DocumentRedactor
from worker.documents.runbooks import RunbookFolder
from worker.documents.settings import GatheringSettings
from worker.documents.slack_files import ChannelFiles, SlackFileReader, ThreadFiles
from worker.engine.base import Engine
from worker.index.file_ingest import FileIngest
from worker.index.files import IndexedFiles
from worker.pipeline import AnswerPipeline
from worker.queue_worker import run_worker
from worker.runtime import engine_index

QUEUE = "chatops-test"
CHANNEL = "C1"


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


_INTAKE_EXECUTORS: weakref.WeakKeyDictionary[App, ThreadPoolExecutor] = weakref.WeakKeyDictionary()


def make_bot(slack: FakeSlack, redis: Redis, metrics: BotMetrics | None = None, **settings: Any) -> App:
    """The bot app on the fake Slack; ``settings`` override BotSettings fields (e.g. channel_config_path)."""
    bot_settings = BotSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
                               queue_name=QUEUE, **settings)
    intake = ThreadPoolExecutor(max_workers=bot_settings.intake_threads, thread_name_prefix="intake")
    app = build_app(bot_settings, redis=redis, metrics=metrics, intake_executor=intake)
    _INTAKE_EXECUTORS[app] = intake
    return app


def dispatch(app: App, body: str, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> BoltResponse:
    all_headers: dict[str, str | Sequence[str]] = {"content-type": content_type, **sign(body), **(headers or {})}
    return app.dispatch(BoltRequest(body=body, headers=all_headers))


def drain_listeners(*apps: App) -> None:
    """Wait until every listener the apps' requests started has returned and every question they handed
    to the intake has been taken. Bolt acks a request, then runs its listener on the app's listener
    executor (the pool ``bot.app.build_app`` passes in), which hands the question to the intake's own
    threads: shutting both pools down, in that order, waits for them all. The apps take no more requests
    afterwards."""
    for app in apps:
        app.listener_runner.listener_executor.shutdown(wait=True)
        _INTAKE_EXECUTORS[app].shutdown(wait=True)


def thread_files(client: WebClient) -> ThreadFiles:
    """The question's and its thread's files, read with the default caps."""
    return ThreadFiles(SlackFileReader.from_settings(client, GatheringSettings()))


@contextmanager
def worker_context(slack: FakeSlack, redis: Redis, engine: Engine, runbooks: Path,
                   settings: GatheringSettings | None = None) -> Iterator[WorkerContext]:
    """This process set up as a worker while in the block, as ``python -m worker`` sets it up
    (worker/runtime.py), with the index in ``redis``: the runbook folder, the question's and its thread's
    files (read like Slack uploads, known to the index once read), recent channel uploads, and the reader of
    ingest jobs; ``engine`` answers."""
    settings = settings or GatheringSettings()
    client = slack_client(BOT_TOKEN, slack.api_url)
    index = engine_index(engine, redis)
    redactor = DocumentRedactor()
    reader = SlackFileReader.from_settings(client, settings, IndexedFiles(index.store, redactor))
    sources: list[Source] = [
        RunbookFolder(runbooks), ThreadFiles(reader),
        ChannelFiles(reader, window_s=settings.recent_files_window_s, max_files=settings.max_channel_files),
        ChannelFiles(reader, window_s=settings.recent_files_window_s, max_files=settings.max_channel_files,
                     logs_only=True)]
    gatherer = DocumentGatherer(sources, client=client, redactor=redactor)
    context = WorkerContext(pipeline=AnswerPipeline(gatherer, engine, index), slack=client, redis=redis,
                            file_ingest=FileIngest(reader, index, redactor))
    set_context(context)
    try:
        yield context
    finally:
        set_context(None)


def queued(redis: Redis) -> int:
    return question_queue(redis, QUEUE).count


def run_worker_burst(redis: Redis) -> None:
    run_worker(redis, QUEUE, burst=True)


def mention_event(slack: FakeSlack, text: str, channel: str = CHANNEL, **extra: str) -> dict[str, Any]:
    """Post the user's message in the fake workspace and return the ``app_mention`` event Slack would send."""
    message = slack.add_message(channel, text)
    return {"type": "app_mention", "user": "U1", "text": text, "ts": message["ts"], "channel": channel,
            "event_ts": message["ts"], **extra}


def bot_messages(slack: FakeSlack, channel: str = CHANNEL, thread_ts: str | None = None) -> list[dict[str, Any]]:
    """The bot's messages in a channel (or one thread of it), as the workspace holds them now."""
    return [m for m in slack.state.messages.get(channel, []) if m.get("user") == BOT_USER_ID
            and (thread_ts is None or m.get("thread_ts") == thread_ts)]


def answered_mention(app: App, slack: FakeSlack, redis: Redis, question: str, event_id: str) -> dict[str, Any]:
    """Ask by mentioning the bot and let a burst worker answer: returns the event, whose thread is now a
    bot thread (follow-ups there are questions too)."""
    event = mention_event(slack, f"<@{BOT_USER_ID}> {question}")
    dispatch(app, event_body(event, event_id))
    wait_for(lambda: queued(redis) == 1, what="the job")
    run_worker_burst(redis)
    return event
