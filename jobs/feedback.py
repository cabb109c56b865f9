"""Answers and the votes on them: what the worker answered (the answer record) and what people thought.

The worker writes an :class:`AnswerRecord` when it posts an answer (keyed by the answer id, the question's
job id, which is also the value of the answer's buttons); the bot records votes and reads the record for
the hand-off; ``chatops feedback export`` reads both. A record holds the ids of the cited chunks, never
their text, so nothing a vote or an export touches reveals a document.

One vote per user per answer: a second click on the same button counts once, a changed vote replaces the
first (the counts move with it). Counts are kept per channel and day of the answer, for App Home.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis

HELPFUL = "helpful"
NOT_HELPFUL = "not_helpful"
VOTES = (HELPFUL, NOT_HELPFUL)
RECORD_TTL_S = 90 * 86400  # answers can be rated, and votes exported, for 90 days
RECENT_DAYS = 7  # App Home's "recent" feedback
MAX_REASON_CHARS = 500
ALL_CHANNELS = "*"

_VOTED = "chatops:feedback:voted"  # sorted set: answer ids with votes, by answer time (export)

# KEYS: the answer's votes, its channel's counts, everyone's counts, the voted index.
# ARGV: user, vote, vote JSON, counts TTL, votes TTL, answered_at, answer id.
# Returns the previous vote ('' for none). A same vote with an empty reason keeps the earlier reason.
_RECORD_VOTE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local previous = ''
local value = ARGV[3]
if old then
  local decoded = cjson.decode(old)
  previous = decoded['vote']
  local new = cjson.decode(ARGV[3])
  if previous == ARGV[2] and (new['reason'] == nil or new['reason'] == '') and decoded['reason'] then
    new['reason'] = decoded['reason']
    value = cjson.encode(new)
  end
end
redis.call('HSET', KEYS[1], ARGV[1], value)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[7])
if previous ~= ARGV[2] then
  for i = 2, 3 do
    if previous ~= '' then redis.call('HINCRBY', KEYS[i], previous, -1) end
    redis.call('HINCRBY', KEYS[i], ARGV[2], 1)
    redis.call('EXPIRE', KEYS[i], ARGV[4])
  end
end
return previous
"""


@dataclass(frozen=True)
class AnswerRecord:
    answer_id: str  # the question's job id
    question: str
    channel: str
    user: str  # who asked
    engine: str
    answered_at: float  # epoch seconds
    mode: str = "ask"
    thread_ts: str | None = None  # the thread the answer is in (None: posted in the channel itself)
    chunks: tuple[str, ...] = ()  # ids of the cited chunks, best first (never their text)
    sources: tuple[str, ...] = ()  # the citation labels shown under the answer, for the hand-off message

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> AnswerRecord:
        data = json.loads(raw)
        data["chunks"] = tuple(data.get("chunks") or ())
        data["sources"] = tuple(data.get("sources") or ())
        return cls(**data)


@dataclass(frozen=True)
class Counts:
    helpful: int = 0
    not_helpful: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.helpful + other.helpful, self.not_helpful + other.not_helpful)


@dataclass(frozen=True)
class Vote:
    vote: str
    at: float
    reason: str = ""


def _record_key(answer_id: str) -> str:
    return f"chatops:answer:{answer_id}"


def _votes_key(answer_id: str) -> str:
    return f"chatops:feedback:votes:{answer_id}"


def _counts_key(channel: str, day: str) -> str:
    return f"chatops:feedback:counts:{channel}:{day}"


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%d")


def record_answer(redis: Redis, record: AnswerRecord, ttl: int = RECORD_TTL_S) -> None:
    redis.set(_record_key(record.answer_id), record.to_json(), ex=ttl)


def answer_record(redis: Redis, answer_id: str) -> AnswerRecord | None:
    """The record, or None when there is none (never answered, or older than the records are kept)."""
    raw = redis.get(_record_key(answer_id))
    if raw is None:
        return None
    return AnswerRecord.from_json(raw)


def record_vote(redis: Redis, record: AnswerRecord, user: str, vote: str, reason: str = "",
                now: float | None = None) -> str | None:
    """Record ``user``'s vote on the answer; returns their previous vote (None: first vote)."""
    if vote not in VOTES:
        raise ValueError(f"unknown vote {vote!r}")
    now = time.time() if now is None else now
    day = _day(record.answered_at)
    value = json.dumps({"vote": vote, "at": now, "reason": reason.strip()[:MAX_REASON_CHARS]})
    script = redis.register_script(_RECORD_VOTE)
    previous = script(
        keys=[_votes_key(record.answer_id), _counts_key(record.channel, day), _counts_key(ALL_CHANNELS, day),
              _VOTED],
        args=[user, vote, value, (RECENT_DAYS + 1) * 86400, RECORD_TTL_S, record.answered_at, record.answer_id],
    )
    previous = previous.decode() if isinstance(previous, bytes) else previous
    return previous or None


def votes(redis: Redis, answer_id: str) -> dict[str, Vote]:
    """The votes on one answer, by user."""
    out = {}
    raw_votes: dict[bytes, bytes] = redis.hgetall(_votes_key(answer_id))  # type: ignore[assignment]
    for user, raw in raw_votes.items():
        data = json.loads(raw)
        out[user.decode()] = Vote(vote=data["vote"], at=float(data["at"]), reason=data.get("reason") or "")
    return out


def recent_counts(redis: Redis, channels: Sequence[str], now: float | None = None,
                  days: int = RECENT_DAYS) -> dict[str, Counts]:
    """Votes on the answers of the last ``days`` days, per channel (``ALL_CHANNELS``: everywhere)."""
    now = time.time() if now is None else now
    day_names = [_day(now - d * 86400) for d in range(days)]
    pipe = redis.pipeline(transaction=False)
    for channel in channels:
        for day in day_names:
            pipe.hgetall(_counts_key(channel, day))
    results = iter(pipe.execute())
    counts = {}
    for channel in channels:
        total = Counts()
        for _ in day_names:
            bucket = {k.decode(): int(v) for k, v in next(results).items()}
            total += Counts(max(0, bucket.get(HELPFUL, 0)), max(0, bucket.get(NOT_HELPFUL, 0)))
        counts[channel] = total
    return counts


def export_votes(redis: Redis, now: float | None = None) -> Iterator[dict[str, Any]]:
    """Every vote still kept, oldest answer first: one dict per vote, with its answer's record (for
    review, later for fine-tuning). Times are ISO 8601 in UTC."""
    now = time.time() if now is None else now
    redis.zremrangebyscore(_VOTED, "-inf", now - RECORD_TTL_S)
    for raw_id in redis.zrange(_VOTED, 0, -1):
        answer_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        record = answer_record(redis, answer_id)
        if record is None:
            continue
        for user, vote in sorted(votes(redis, answer_id).items(), key=lambda item: item[1].at):
            yield {
                "answer_id": answer_id, "question": record.question, "mode": record.mode,
                "channel": record.channel, "engine": record.engine, "chunks": list(record.chunks),
                "answered_at": _iso(record.answered_at), "user": user, "vote": vote.vote,
                "reason": vote.reason, "voted_at": _iso(vote.at),
            }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
