"""Which threads the bot takes part in, so follow-ups there are answered without a mention."""

from __future__ import annotations

from redis import Redis

THREAD_TTL_SECONDS = 14 * 86400


def _key(channel: str, thread_ts: str) -> str:
    return f"chatops:thread:{channel}:{thread_ts}"


def remember_bot_thread(connection: Redis, channel: str, thread_ts: str) -> None:
    connection.set(_key(channel, thread_ts), "1", ex=THREAD_TTL_SECONDS)


def is_bot_thread(connection: Redis, channel: str, thread_ts: str) -> bool:
    return bool(connection.exists(_key(channel, thread_ts)))
