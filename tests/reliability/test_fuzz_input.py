"""Bad input, fuzzed through the real Bolt app, queue, worker and default engine: empty, whitespace,
40k characters, unicode-heavy and special-token questions; binary, zero-byte and unreadable files. Each
gets exactly one clear reply and nothing crashes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis
from rq.registry import FailedJobRegistry

from bot.intake import WORKING
from bot.questions import USAGE
from jobs.slack_client import slack_client
from tests.conftest import REDIS_URL
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack, Fault
from tests.helpers import (
    CHANNEL,
    QUEUE,
    bot_messages,
    dispatch,
    make_bot,
    queued,
    run_worker_burst,
    thread_files,
    wait_for,
)
from tests.runbooks import write_runbooks
from tests.slack_requests import command_body, event_body
from worker.context import WorkerContext, set_context
from worker.documents.gather import DocumentGatherer
from worker.documents.runbooks import RunbookFolder
from worker.engine.default import ExtractiveEngine
from worker.job import INTERNAL_ERROR
from worker.pipeline import AnswerPipeline
from worker.runtime import engine_index

FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SPECIAL_TOKENS = ["<s>", "</s>", "[INST]", "[/INST]", "<MEM0>", "<MEM15>", "<unk>", "<|endoftext|>", "<<SYS>>",
                  "<!channel>", "<!here>", "<@U0BAD>", "```", "\x00", "\u202e", "&lt;", "%s", "{0}"]
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # 40k-char reprs
INTERNAL = INTERNAL_ERROR.split("(")[0].strip()  # "Something went wrong while answering"

whitespace = st.text(alphabet=" \t\n\r\u00a0\u2002\u2003\u3000\u2028\u2029\x0b\x0c", max_size=60)
huge = st.integers(38_000, 42_000).map(lambda n: ("why is checkout slow? " * (n // 20 + 1))[:n])
unicode_heavy = st.text(st.characters(exclude_categories=["Cs"], min_codepoint=0x80), min_size=1, max_size=400)
special = st.lists(st.one_of(st.sampled_from(SPECIAL_TOKENS), st.text(max_size=8)), max_size=30).map("".join)
questions = st.one_of(st.just(""), whitespace, huge, unicode_heavy, special,
                      st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1")))


class World:
    """One fake Slack, one bot app, one Redis database for many hypothesis examples, reset for each."""

    def __init__(self, slack: FakeSlack, redis: Redis, engine: ExtractiveEngine, runbooks: Path) -> None:
        self.slack, self.redis, self.engine, self.runbooks = slack, redis, engine, runbooks
        self.app = make_bot(slack, redis)

    def reset(self, *, runbooks: bool = True) -> None:
        self.slack.reset()
        self.redis.flushdb()
        self.slack.add_channel(CHANNEL, "ops", members={"U1"})
        self.slack.add_channel("G1", "secret-incident", private=True, members={"U9"})
        client = slack_client(BOT_TOKEN, self.slack.api_url)
        sources: list[Any] = [thread_files(client)]
        if runbooks:
            sources.insert(0, RunbookFolder(self.runbooks))
        gatherer = DocumentGatherer(sources, client=client)
        pipeline = AnswerPipeline(gatherer, self.engine, engine_index(self.engine, self.redis))
        set_context(WorkerContext(pipeline=pipeline, slack=client, redis=self.redis))

    def settle(self) -> None:
        """Wait until the listener has either queued the question or answered without a job."""
        # a slash command's placeholder quotes the question before WORKING: it is not a reply either
        wait_for(lambda: queued(self.redis) == 1 or any(WORKING not in m["text"] for m in bot_messages(self.slack))
                 or self.slack.calls_to("response_url"), what="the listener to finish")
        run_worker_burst(self.redis)

    def only_reply(self, thread_ts: str | None) -> dict[str, Any]:
        replies = bot_messages(self.slack) if thread_ts is None else bot_messages(self.slack, thread_ts=thread_ts)
        assert len(replies) == 1, [r["text"][:80] for r in replies]
        assert len(bot_messages(self.slack)) == 1
        reply = replies[0]
        assert reply["text"].strip() and reply["text"] != WORKING, "the placeholder was never replaced"
        assert INTERNAL not in reply["text"], f"a crash reached the user: {reply['text']}"
        assert len(FailedJobRegistry(QUEUE, connection=self.redis)) == 0
        assert queued(self.redis) == 0
        return reply


@pytest.fixture(scope="module")
def fuzz_world(engine: ExtractiveEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    redis = Redis.from_url(REDIS_URL)
    with FakeSlack() as slack:
        yield World(slack, redis, engine, write_runbooks(tmp_path_factory.mktemp("rb")))
    set_context(None)
    redis.flushdb()
    redis.close()


@FUZZ
@given(text=questions)
def test_any_mention_text_gets_exactly_one_clear_reply(fuzz_world: World, text: str) -> None:
    world = fuzz_world
    world.reset()
    full = f"<@{BOT_USER_ID}> {text}"
    message = world.slack.add_message(CHANNEL, full)
    event = {"type": "app_mention", "user": "U1", "text": full, "ts": message["ts"], "channel": CHANNEL}
    assert dispatch(world.app, event_body(event)).status == 200
    world.settle()
    reply = world.only_reply(message["ts"])
    question = " ".join(text.split())
    if not question:
        assert reply["text"] == USAGE
    elif len(question) > 2000:
        assert "characters long" in reply["text"] and "2,000" in reply["text"]
    else:
        assert "Answered by default" in json.dumps(reply["blocks"])
        for token in ("<!channel>", "<!here>", "<@U0BAD>"):
            assert token not in json.dumps(reply["blocks"]), "document or question text cannot ping"


@FUZZ
@given(text=questions)
def test_any_slash_command_text_gets_exactly_one_clear_reply(fuzz_world: World, text: str) -> None:
    world = fuzz_world
    world.reset()
    response_url = world.slack.base_url + "/response_url/fuzz"
    body = command_body("/ask", text, response_url=response_url)
    assert dispatch(world.app, body, content_type="application/x-www-form-urlencoded").status == 200
    world.settle()
    question = " ".join(text.split())
    if not question or len(question) > 2000:  # told privately, nothing posted in the channel
        [hint] = world.slack.calls_to("response_url")
        assert hint.args["response_type"] == "ephemeral"
        assert ("/ask" in hint.args["text"]) if not question else ("characters long" in hint.args["text"])
        assert not bot_messages(world.slack) and queued(world.redis) == 0
        return
    reply = world.only_reply(None)
    assert "Answered by default" in json.dumps(reply["blocks"])
    assert not world.slack.calls_to("response_url")


FILE_NAMES = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).map(
    lambda s: s.strip().replace("/", "_") or "file")
MIMETYPES = st.sampled_from(["text/plain", "application/octet-stream", "image/png", "application/gzip",
                             "application/pdf", "text/html", "text/x-log", ""])


@FUZZ
@given(content=st.one_of(st.just(b""), st.binary(max_size=3000),
                         st.binary(max_size=200).map(lambda b: b"\x1f\x8b" + b),  # broken gzip
                         st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass"))),
       name=FILE_NAMES, mimetype=MIMETYPES)
def test_any_attached_file_gets_exactly_one_clear_reply(fuzz_world: World, content: bytes, name: str,
                                                        mimetype: str) -> None:
    world = fuzz_world
    world.reset(runbooks=False)  # the file is the only document: whatever happens to it is visible
    world.slack.add_file("F1", name, content, channel=CHANNEL, mimetype=mimetype)
    full = f"<@{BOT_USER_ID}> what went wrong in this file?"
    message = world.slack.add_message(CHANNEL, full, files=[{"id": "F1", "name": name}])
    event = {"type": "app_mention", "user": "U1", "text": full, "ts": message["ts"], "channel": CHANNEL,
             "files": [{"id": "F1", "name": name}]}
    dispatch(world.app, event_body(event))
    world.settle()
    reply = world.only_reply(message["ts"])
    blocks = json.dumps(reply["blocks"])
    assert "Answered by default" in blocks or reply["text"].startswith(":warning:"), reply["text"]


def _ask_about(world: World, file_ids: list[str]) -> dict[str, Any]:
    full = f"<@{BOT_USER_ID}> what went wrong in these files?"
    files = [{"id": f} for f in file_ids]
    message = world.slack.add_message(CHANNEL, full, files=files)
    dispatch(world.app, event_body({"type": "app_mention", "user": "U1", "text": full, "ts": message["ts"],
                                    "channel": CHANNEL, "files": files}))
    world.settle()
    return world.only_reply(message["ts"])


def test_binary_zero_byte_and_unreadable_files_are_named_with_their_reason(fuzz_world: World) -> None:
    world = fuzz_world
    world.reset(runbooks=False)
    world.slack.add_file("F1", "core.dump", bytes(range(256)) * 8, channel=CHANNEL,
                         mimetype="application/octet-stream")
    world.slack.add_file("F2", "blob.txt", b"\x00\x01\x02binary\x00" * 50, channel=CHANNEL)
    world.slack.add_file("F4", "report.txt", b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>",
                         channel=CHANNEL, mimetype="text/html")  # what Slack sends without files:read
    world.slack.fail_next("files.info", Fault(error="file_not_found"))  # F0: deleted, or never ours to see
    reply = _ask_about(world, ["F0", "F1", "F2", "F4"])
    text = reply["text"]
    assert text.startswith(":warning:")
    for expected in ("core.dump: binary file", "blob.txt: binary file", "F0", "file_not_found",
                     "report.txt", "files:read"):
        assert expected in text, f"{expected!r} missing from {text!r}"


def test_zero_byte_and_blank_files_are_named_as_having_no_text(fuzz_world: World) -> None:
    world = fuzz_world
    world.reset(runbooks=False)
    world.slack.add_file("F3", "empty.log", b"", channel=CHANNEL)
    world.slack.add_file("F5", "blank.txt", b"\n  \n\t\n", channel=CHANNEL)
    reply = _ask_about(world, ["F3", "F5"])
    assert reply["text"].startswith(":warning:")
    for expected in ("empty.log: empty file", "blank.txt: no text in it"):
        assert expected in reply["text"], f"{expected!r} missing from {reply['text']!r}"


def test_a_file_from_a_private_channel_is_not_read_and_not_named(fuzz_world: World) -> None:
    world = fuzz_world
    world.reset(runbooks=False)
    world.slack.add_file("F9", "payroll-incident.txt", b"ERROR salaries table locked\n" * 5, channel="G1")
    world.slack.share_file("F9", "G1")
    reply = _ask_about(world, ["F9"])
    assert reply["text"].startswith(":warning:")
    assert "payroll" not in json.dumps(reply) and "salaries" not in json.dumps(reply)
