"""Small helpers shared by the end-to-end tests: the bot, the worker context, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from redis import Redis
from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.app import build_app
from bot.settings import BotSettings
from jobs.enqueue import question_queue
from jobs.slack_client import slack_client
from tests.conftest import SIGNING_SECRET, sign
from tests.fake_slack import BOT_TOKEN, FakeSlack
from worker.context import WorkerContext, set_context
from worker.documents.base import Source
from worker.documents.gather import DocumentGatherer
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


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def make_bot(slack: FakeSlack, redis: Redis) -> App:
    settings = BotSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
                           queue_name=QUEUE)
    return build_app(settings, redis=redis)


def dispatch(app: App, body: str, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> BoltResponse:
    all_headers: dict[str, str | Sequence[str]] = {"content-type": content_type, **sign(body), **(headers or {})}
    return app.dispatch(BoltRequest(body=body, headers=all_headers))


def thread_files(client: WebClient) -> ThreadFiles:
    """The question's and its thread's files, read with the default caps."""
    return ThreadFiles(SlackFileReader.from_settings(client, GatheringSettings()))


def start_worker_context(slack: FakeSlack, redis: Redis, engine: Engine, runbooks: Path,
                         settings: GatheringSettings | None = None) -> WorkerContext:
    """What ``python -m worker`` sets up (worker/runtime.py), with the index in ``redis``: the runbook
    folder, the question's and its thread's files (read like Slack uploads, known to the index once read),
    recent channel uploads, and the reader of ingest jobs."""
    settings = settings or GatheringSettings()
    client = slack_client(BOT_TOKEN, slack.api_url)
    index = engine_index(engine, redis)
    reader = SlackFileReader.from_settings(client, settings, IndexedFiles(index.store))
    sources: list[Source] = [RunbookFolder(runbooks), ThreadFiles(reader),
               ChannelFiles(reader, window_s=settings.recent_files_window_s, max_files=settings.max_channel_files),
               ChannelFiles(reader, window_s=settings.recent_files_window_s, max_files=settings.max_channel_files,
                            logs_only=True)]
    gatherer = DocumentGatherer(sources, client=client)
    context = WorkerContext(pipeline=AnswerPipeline(gatherer, engine, index), slack=client, redis=redis,
                            file_ingest=FileIngest(reader, index))
    set_context(context)
    return context


def queued(redis: Redis) -> int:
    return question_queue(redis, QUEUE).count


def run_worker_burst(redis: Redis) -> None:
    run_worker(redis, QUEUE, burst=True)
