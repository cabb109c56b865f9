"""Build the Bolt app from settings."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry
from slack_bolt import App
from slack_sdk import WebClient

from bot.assistant import build_assistant
from bot.feedback import register_feedback
from bot.file_intake import FileIntake
from bot.handoff import HandOff, register_handoff
from bot.home import AppHome, register_home
from bot.intake import QuestionIntake
from bot.listeners import register_listeners
from bot.metrics import BotMetrics
from bot.settings import BotSettings
from jobs.channel_config import ChannelConfigFile
from jobs.enqueue import question_queue
from jobs.ingest import ingest_queue
from jobs.slack_client import slack_client


def bot_redis(settings: BotSettings) -> Redis:
    """The bot's Redis client: a command that gets no reply in ``redis_timeout_s`` fails (the user is told,
    instead of waiting), and is not sent again (a stalled Redis would not answer it either); a connection
    found closed (Redis restarted) is opened again and the command retried."""
    reconnect = Retry(ExponentialBackoff(cap=0.5, base=0.05), 2, supported_errors=(RedisConnectionError,))
    return Redis.from_url(settings.redis_url, socket_timeout=settings.redis_timeout_s,
                          socket_connect_timeout=settings.redis_timeout_s, retry=reconnect)


def build_app(settings: BotSettings, redis: Redis | None = None, client: WebClient | None = None,
              metrics: BotMetrics | None = None, intake_executor: Executor | None = None) -> App:
    """``intake_executor``: where questions are taken (default: ``settings.intake_threads`` threads).
    Raises ``OSError`` or ``ValueError`` when the channel config is missing or malformed."""
    redis = redis if redis is not None else bot_redis(settings)
    client = client or slack_client(settings.bot_token, settings.slack_api_url)
    metrics = metrics or BotMetrics()
    channel_config = ChannelConfigFile(settings.channel_config_path) if settings.channel_config_path else None
    app = App(
        client=client,
        signing_secret=settings.signing_secret or "",
        logger=logging.getLogger("bot.bolt"),
        # Bolt's default pool has 5 threads: a slash command is acked from a pool thread, so 5 slow
        # placeholder posts in flight would make the next command miss Slack's 3 seconds
        listener_executor=ThreadPoolExecutor(max_workers=settings.listener_threads,
                                             thread_name_prefix="bolt-listener"),
    )
    queue = question_queue(redis, settings.queue_name)
    metrics.watch_queue(redis, settings.queue_name)
    intake = QuestionIntake(
        redis=redis,
        queue=queue,
        job_timeout=settings.job_timeout,
        max_question_chars=settings.max_question_chars,
        executor=intake_executor or ThreadPoolExecutor(max_workers=settings.intake_threads,
                                                       thread_name_prefix="intake"),
        metrics=metrics,
    )
    app.assistant(build_assistant(intake))
    register_listeners(app, intake, FileIntake(ingest_queue(redis, settings.queue_name)))
    register_feedback(app, redis, metrics)
    register_handoff(app, HandOff(redis, channel_config, metrics, cooldown_s=settings.handoff_cooldown_s,
                                  per_hour=settings.handoff_per_hour))
    register_home(app, AppHome(redis, queue, channel_config))
    return app
