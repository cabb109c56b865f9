"""Where progress shows: the placeholder (edits spaced out), an assistant thread's status line, or nowhere."""

from __future__ import annotations

from jobs.payload import QuestionJob
from jobs.slack_client import slack_client
from tests.fake_slack import BOT_TOKEN, FakeSlack
from worker.progress import AssistantStatus, NoProgress, PlaceholderProgress, progress_for


def test_the_surface_follows_the_job(slack: FakeSlack) -> None:
    client = slack_client(BOT_TOKEN, slack.api_url)
    job = QuestionJob(question="q", channel="C1", user="U1", thread_ts="1.1")
    assert isinstance(progress_for(client, job), NoProgress)
    assert isinstance(progress_for(client, QuestionJob(**{**job.to_dict(), "placeholder_ts": "1.2"})),
                      PlaceholderProgress)
    assert isinstance(progress_for(client, QuestionJob(**{**job.to_dict(), "source": "assistant"})), AssistantStatus)
    # an assistant thread where the bot fell back to a placeholder: the placeholder it is
    assert isinstance(progress_for(client, QuestionJob(**{**job.to_dict(), "source": "assistant",
                                                          "placeholder_ts": "1.2"})), PlaceholderProgress)


def test_placeholder_edits_are_spaced_out(slack: FakeSlack) -> None:
    slack.add_channel("C1", "ops")
    placeholder = slack.add_message("C1", ":hourglass_flowing_sand: Looking through the documents…", user="UBOT")
    client = slack_client(BOT_TOKEN, slack.api_url)
    spaced = PlaceholderProgress(client, "C1", placeholder["ts"], min_interval_s=3600)
    spaced.update("reading 3 new files…")
    assert not slack.calls_to("chat.update"), "no edit right after the placeholder was posted"
    eager = PlaceholderProgress(client, "C1", placeholder["ts"], min_interval_s=0)
    eager.update("reading 3 new files…")
    assert placeholder["text"] == ":hourglass_flowing_sand: Reading 3 new files…"


def test_a_status_slack_refuses_does_not_stop_the_answer(slack: FakeSlack) -> None:
    slack.add_channel("D1", "dm", is_im=True, members={"U1"})
    AssistantStatus(slack_client(BOT_TOKEN, slack.api_url), "D1", "9.9").update("answering…")  # not a thread
    assert slack.calls_to("assistant.threads.setStatus")[0].args["status"] == "is answering…"
