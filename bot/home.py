"""App Home (``app_home_opened`` → ``views.publish``): what the bot reads where, and how it is doing.

For the user: the channels they share with the bot (at most ``MAX_CHANNELS``, by name), each with the
sources the channel config gives it, what the last question there read (recorded by the worker after each
gathering: ``jobs.activity``) and the votes on its answers of the last week. For everyone: the engine each
live worker runs, the queue depth, answers and failures over the last hour. Only counts and names are
shown, never a document, and only channels the user is a member of. The view stays within Block Kit's 100
blocks for a Home tab whatever the number of channels.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from jobs import activity, feedback
from jobs.activity import ChannelSourceCounts, WorkerInfo
from jobs.channel_config import ChannelConfigFile
from jobs.feedback import Counts

log = logging.getLogger(__name__)

HOME_BLOCK_LIMIT = 100
MAX_CHANNELS = 40  # one section each; the rest are counted in a line
CHANNEL_PAGES = 10  # users.conversations pages of 200 read at most, per listing
BOT_CHANNELS_TTL_S = 60
SOURCE_LABELS = {"runbooks": "runbooks", "thread_files": "files in the thread", "channel_files": "recent uploads",
                 "bookmarks": "bookmarks", "pins": "pinned items", "links": "linked pages"}


@dataclass(frozen=True)
class HomeChannel:
    id: str
    sources: tuple[str, ...] | None  # what the channel config gives it (None: no config, every source)
    last_read: ChannelSourceCounts | None  # what the last question there read (None: none recorded)
    feedback: Counts


@dataclass(frozen=True)
class ServiceStatus:
    workers: Sequence[WorkerInfo]
    queue_depth: int
    answered_last_hour: int
    failed_last_hour: int
    feedback: Counts


@dataclass
class SharedChannels:
    """The channels a user shares with the bot: the user's channels (public ones, and private ones the bot
    is in too) that the bot is a member of. The bot's own list is reused for a minute."""

    _bot_channels: dict[str, str] = field(default_factory=dict)
    _bot_channels_at: float = -BOT_CHANNELS_TTL_S
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def for_user(self, client: WebClient, user: str) -> list[tuple[str, str]]:
        """(id, name) pairs, by name."""
        with self._lock:
            if time.monotonic() - self._bot_channels_at > BOT_CHANNELS_TTL_S:
                self._bot_channels = _conversations(client, None)
                self._bot_channels_at = time.monotonic()
            bot_channels = self._bot_channels
        mine = _conversations(client, user)
        return sorted(((c, name) for c, name in mine.items() if c in bot_channels), key=lambda c: c[1])


def _conversations(client: WebClient, user: str | None) -> dict[str, str]:
    """id -> name of the user's (None: the bot's) unarchived channels, public and private."""
    found: dict[str, str] = {}
    cursor: str | None = None
    for _ in range(CHANNEL_PAGES):
        page = client.users_conversations(user=user, types="public_channel,private_channel",
                                          exclude_archived=True, limit=200, cursor=cursor)
        found.update({str(c["id"]): str(c.get("name") or c["id"]) for c in page.get("channels") or []})
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return found


def render_home(channels: Sequence[HomeChannel], status: ServiceStatus | None, more_channels: int = 0,
                channels_note: str | None = None) -> dict[str, Any]:
    """The Home tab view: at most ``MAX_CHANNELS`` channels, then a line counting the others with
    ``more_channels``. ``channels_note`` replaces the channel list when it could not be read."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "chatops"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            "I answer on-call questions from each channel's runbooks, files and logs. Mention me in a channel, "
            "use `/ask`, `/runbook` or `/logs`, or open me in the assistant panel. Every answer has "
            ":thumbsup: / :thumbsdown: buttons and *Ask a human*, which brings in the channel's on-call group.")}},
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "Your channels"}},
    ]
    if channels_note:
        blocks.append(_context(channels_note))
    elif not channels:
        blocks.append(_context("We share no channel yet: invite me with `/invite @chatops`."))
    for channel in channels[:MAX_CHANNELS]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _channel_text(channel)}})
    more_channels += max(0, len(channels) - MAX_CHANNELS)
    if more_channels:
        blocks.append(_context(f"…and {_plural(more_channels, 'more channel')}."))
    blocks += [{"type": "divider"}, {"type": "header", "text": {"type": "plain_text", "text": "Service"}},
               {"type": "section", "text": {"type": "mrkdwn", "text": _status_text(status)}}]
    return {"type": "home", "blocks": blocks}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _channel_text(channel: HomeChannel) -> str:
    if channel.sources is None:
        reads = "every source"
    elif channel.sources:
        reads = ", ".join(SOURCE_LABELS[s] for s in channel.sources)
    else:
        reads = "nothing (turned off in the channels file)"
    lines = [f"*<#{channel.id}>* reads {reads}"]
    last = channel.last_read
    if last is None:
        lines.append("No question asked here yet.")
    else:
        when = f"<!date^{int(last.at)}^{{date_short_pretty}} {{time}}|recently>"
        counts = [_plural(last.runbooks, "runbook"), _plural(last.files, "file"), _plural(last.pins, "pin"),
                  _plural(last.bookmarks, "bookmark"), _plural(last.pages, "page")]
        lines.append(f"Last question ({when}) read {', '.join(counts)}.")
    lines.append(f"Feedback, 7 days: :thumbsup: {channel.feedback.helpful} · "
                 f":thumbsdown: {channel.feedback.not_helpful}")
    return "\n".join(lines)


def _status_text(status: ServiceStatus | None) -> str:
    if status is None:
        return ":warning: The service status is unavailable (Redis did not answer)."
    engines = Counter((w.engine, w.checkpoint) for w in status.workers)
    if engines:
        engine_lines = [f"{engine}" + (f", checkpoint `{checkpoint}`" if checkpoint else "")
                        + f" on {_plural(n, 'worker')}" for (engine, checkpoint), n in engines.items()]
        runbooks = sorted({w.runbooks for w in status.workers if w.runbooks})
        engine_text = "\n".join(f"*Engine:* {line}" for line in engine_lines)
        if runbooks:
            engine_text += "\n*Runbook folder:* " + ", ".join(f"`{r}`" for r in runbooks)
    else:
        engine_text = ":warning: *No worker is running:* questions wait in the queue until one starts."
    return (f"{engine_text}\n*Queue:* {_plural(status.queue_depth, 'question')} waiting\n"
            f"*Last hour:* {status.answered_last_hour} answered · {status.failed_last_hour} failed\n"
            f"*Feedback, 7 days:* :thumbsup: {status.feedback.helpful} · :thumbsdown: {status.feedback.not_helpful}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass
class AppHome:
    redis: Redis
    queue: Queue
    channel_config: ChannelConfigFile | None
    shared: SharedChannels = field(default_factory=SharedChannels)

    def view_for(self, client: WebClient, user: str) -> dict[str, Any]:
        note = None
        try:
            shared = self.shared.for_user(client, user)
        except SlackApiError as error:
            log.warning("could not list the channels of %s: %s", user, error.response.get("error"))
            shared, note = [], "I could not list your channels just now; open this tab again in a minute."
        return render_home(self._channels(shared[:MAX_CHANNELS]), self._status(),
                           more_channels=max(0, len(shared) - MAX_CHANNELS), channels_note=note)

    def _channels(self, shown: Sequence[tuple[str, str]]) -> list[HomeChannel]:
        ids = [c for c, _ in shown]
        try:
            read = activity.channel_sources(self.redis, ids)
            votes = feedback.recent_counts(self.redis, ids)
        except RedisError as error:
            log.warning("App Home: %s", error)
            read, votes = {}, {}
        config = self.channel_config.current() if self.channel_config else None
        return [HomeChannel(id=c, sources=config.sources_for(c, {c: name}.get) if config else None,
                            last_read=read.get(c), feedback=votes.get(c, Counts()))
                for c, name in shown]

    def _status(self) -> ServiceStatus | None:
        try:
            return ServiceStatus(
                workers=activity.live_workers(self.redis), queue_depth=self.queue.count,
                answered_last_hour=activity.last_hour(self.redis, activity.ANSWERED),
                failed_last_hour=activity.last_hour(self.redis, activity.FAILED),
                feedback=feedback.recent_counts(self.redis, [feedback.ALL_CHANNELS])[feedback.ALL_CHANNELS],
            )
        except RedisError as error:
            log.warning("App Home status: %s", error)
            return None


def register_home(app: App, home: AppHome) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        try:
            client.views_publish(user_id=event["user"], view=home.view_for(client, event["user"]))
        except SlackApiError as error:
            log.warning("could not publish App Home for %s: %s", event["user"], error.response.get("error"))
