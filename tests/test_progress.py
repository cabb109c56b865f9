"""The placeholder says "Reading N new documents…" only when reading takes a while, through the real
WebClient against the fake Slack."""

from __future__ import annotations

from jobs.payload import QuestionJob
from jobs.slack_client import slack_client
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack
from worker.progress import PlaceholderProgress


def _job(slack: FakeSlack) -> QuestionJob:
    slack.add_channel("C1", "ops", members={"U1"})
    placeholder = slack.add_message("C1", "Looking through the documents…", user=BOT_USER_ID)
    return QuestionJob(question="why?", channel="C1", user="U1", placeholder_ts=placeholder["ts"])


def test_a_slow_read_shows_progress_in_the_placeholder(slack: FakeSlack) -> None:
    job = _job(slack)
    progress = PlaceholderProgress(slack_client(BOT_TOKEN, slack.api_url), job, delay_s=0, interval_s=0)
    progress(0, 3)
    progress(1, 3)
    progress(3, 3)  # done: the answer replaces the placeholder next, no update for this
    texts = [c.args["text"] for c in slack.calls_to("chat.update")]
    assert texts == [":hourglass_flowing_sand: Reading 3 new documents…",
                     ":hourglass_flowing_sand: Reading 3 new documents… (1 of 3 read)"]


def test_a_quick_read_says_nothing_and_a_slack_error_is_not_raised(slack: FakeSlack) -> None:
    job = _job(slack)
    quiet = PlaceholderProgress(slack_client(BOT_TOKEN, slack.api_url), job)  # 1.5 s before the first update
    quiet(0, 2)
    quiet(1, 2)
    quiet(2, 2)
    assert slack.calls_to("chat.update") == []
    gone = PlaceholderProgress(slack_client(BOT_TOKEN, slack.api_url),
                               QuestionJob(question="why?", channel="C1", user="U1", placeholder_ts="1.2"),
                               delay_s=0)
    gone(0, 2)  # message_not_found: logged, not raised
    assert len(slack.calls_to("chat.update")) == 1
