"""Small helpers shared by the end-to-end tests: the bot, the worker context, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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
from tests.conftest import SIGNING_SECRET, sign
from tests.fake_slack import BOT_TOKEN, FakeSlack
from worker.context import WorkerContext, set_context
from worker.documents.gather import DocumentGatherer
from worker.documents.runbooks import RunbookFolder
from worker.documents.settings import GatheringSettings
from worker.documents.slack_files import SlackFileReader, ThreadFiles
from worker.engine.base import Engine
from worker.pipeline import AnswerPipeline
from worker.queue_worker import run_worker

QUEUE = "chatops-test"


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def make_bot(slack: FakeSlack, redis: Redis, metrics: BotMetrics | None = None, **settings: Any) -> App:
    """The bot app on the fake Slack; ``settings`` override BotSettings fields (e.g. channel_config_path)."""
    bot_settings = BotSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
                               queue_name=QUEUE, **settings)
    return build_app(bot_settings, redis=redis, metrics=metrics)


def dispatch(app: App, body: str, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> BoltResponse:
    all_headers: dict[str, str | Sequence[str]] = {"content-type": content_type, **sign(body), **(headers or {})}
    return app.dispatch(BoltRequest(body=body, headers=all_headers))


def thread_files(client: WebClient) -> ThreadFiles:
    """The question's and its thread's files, read with the default caps."""
    return ThreadFiles(SlackFileReader.from_settings(client, GatheringSettings()))


def start_worker_context(slack: FakeSlack, redis: Redis, engine: Engine, runbooks: Path) -> WorkerContext:
    client = slack_client(BOT_TOKEN, slack.api_url)
    gatherer = DocumentGatherer([RunbookFolder(runbooks), thread_files(client)])
    context = WorkerContext(pipeline=AnswerPipeline(gatherer, engine), slack=client, redis=redis)
    set_context(context)
    return context


def queued(redis: Redis) -> int:
    return question_queue(redis, QUEUE).count


def run_worker_burst(redis: Redis) -> None:
    run_worker(redis, QUEUE, burst=True)
