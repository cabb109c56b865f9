"""Assistant threads (Slack's AI-app surface) through bolt-python's ``Assistant``: prompts for the channel the
user is viewing, the status line instead of a placeholder, the same exactly-once job underneath; signed
events, the fake Slack Web API, real Redis and the real worker."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.assistant import LOG_PROMPT
from bot.intake import WORKING_STATUS
from jobs.payload import job_id_for
from tests.app_surface.conftest import ALICE, CHANNEL, DM, Workspace
from tests.fake_slack import BOT_USER_ID
from tests.helpers import dispatch, queued, run_worker_burst, wait_for
from tests.slack_requests import event_body

LOG = (b"2024-05-01 10:00:00 INFO checkout-api started\n"
       b"2024-05-01 10:02:13 ERROR checkout-api payment gateway timed out after 30s: upstream 10.2.3.4:443\n"
       b"2024-05-01 10:02:14 ERROR checkout-api order 8812 failed: PaymentGatewayTimeout\n")


def thread_event(kind: str, thread_ts: str, context_channel: str | None) -> dict[str, Any]:
    context = {"channel_id": context_channel, "team_id": "T0001", "enterprise_id": None} if context_channel else {}
    return {"type": kind, "assistant_thread": {"user_id": ALICE, "context": context, "channel_id": DM,
                                               "thread_ts": thread_ts}, "event_ts": f"{time.time():.6f}"}


def user_message(workspace: Workspace, thread_ts: str, text: str) -> dict[str, Any]:
    message = workspace.slack.add_message(DM, text, user=ALICE, thread_ts=thread_ts)
    return {"type": "message", "channel_type": "im", "user": ALICE, "text": text, "ts": message["ts"],
            "thread_ts": thread_ts, "channel": DM, "event_ts": message["ts"]}


def statuses(workspace: Workspace, thread_ts: str) -> list[str]:
    return [c.args["status"] for c in workspace.slack.calls_to("assistant.threads.setStatus")
            if c.args.get("thread_ts") == thread_ts]


def bot_replies(workspace: Workspace, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in workspace.slack.thread_messages(DM, thread_ts)
            if m.get("user") == BOT_USER_ID and m["ts"] != thread_ts]


def test_a_thread_on_a_channel_with_logs_offers_the_log_prompt_and_answers_from_that_channel(
        workspace: Workspace) -> None:
    slack = workspace.slack
    slack.add_file("FLOG1", "checkout-api.log", LOG, channel=CHANNEL)
    thread = slack.start_assistant_thread(DM, ALICE)
    assert dispatch(workspace.app, event_body(thread_event("assistant_thread_started", thread, CHANNEL),
                                              "EvStart")).status == 200
    wait_for(lambda: (DM, thread) in slack.state.suggested_prompts, what="the suggested prompts")
    offered = slack.state.suggested_prompts[(DM, thread)]
    assert offered["prompts"][0] == LOG_PROMPT and len(offered["prompts"]) == 4
    assert offered["title"] == "Ask about this channel"

    event = user_message(workspace, thread, LOG_PROMPT["message"])
    dispatch(workspace.app, event_body(event, "EvAsk"))
    dispatch(workspace.app, event_body(event, "EvAsk"), headers={"x-slack-retry-num": "1",
                                                                 "x-slack-retry-reason": "http_timeout"})
    wait_for(lambda: queued(workspace.redis) == 1, what="one job")
    assert statuses(workspace, thread) == [WORKING_STATUS]
    assert bot_replies(workspace, thread) == [], "no placeholder message: the status line shows progress"

    run_worker_burst(workspace.redis)
    # three runbooks and the log uploaded in the channel Alice is viewing
    assert statuses(workspace, thread) == [WORKING_STATUS, "is reading 4 documents…", "is answering…"]
    [answer] = bot_replies(workspace, thread)
    assert answer["thread_ts"] == thread
    assert "PaymentGatewayTimeout" in answer["text"] or "timed out" in answer["text"]
    assert "checkout-api.log" in json.dumps(answer["blocks"]), "the viewed channel's log is read and cited"
    assert slack.state.assistant_threads[(DM, thread)] == "", "the reply cleared the status"
    assert any(b["type"] == "actions" for b in answer["blocks"]), "feedback buttons here too"
    assert job_id_for(DM, event["ts"]) in answer["blocks"][-1]["elements"][0]["value"]


def test_moving_to_another_channel_updates_the_prompts_and_what_is_read(workspace: Workspace) -> None:
    slack = workspace.slack
    slack.add_channel("C0QUIET001", "quiet", members={ALICE})
    slack.add_file("FLOG1", "checkout-api.log", LOG, channel=CHANNEL)
    thread = slack.start_assistant_thread(DM, ALICE)
    dispatch(workspace.app, event_body(thread_event("assistant_thread_started", thread, "C0QUIET001"), "Ev1"))
    wait_for(lambda: (DM, thread) in slack.state.suggested_prompts, what="the first prompts")
    assert LOG_PROMPT not in slack.state.suggested_prompts[(DM, thread)]["prompts"]

    dispatch(workspace.app, event_body(thread_event("assistant_thread_context_changed", thread, CHANNEL), "Ev2"))
    wait_for(lambda: LOG_PROMPT in slack.state.suggested_prompts[(DM, thread)]["prompts"], what="new prompts")
    dispatch(workspace.app, event_body(user_message(workspace, thread, "which order failed at the gateway?"), "Ev3"))
    wait_for(lambda: queued(workspace.redis) == 1, what="the job")
    run_worker_burst(workspace.redis)
    [answer] = bot_replies(workspace, thread)
    assert "checkout-api.log" in json.dumps(answer["blocks"])


@pytest.mark.parametrize("alice_is_a_member", [True, False])
def test_a_private_channel_is_read_through_the_context_only_for_its_members(workspace: Workspace,
                                                                          alice_is_a_member: bool) -> None:
    slack = workspace.slack
    slack.add_channel("G0SECRET01", "secret-incident", private=True,
                      members={"U0SOMEONE", ALICE} if alice_is_a_member else {"U0SOMEONE"})
    slack.add_file("FSECRET", "secret.log", b"2024-05-01 10:00:00 ERROR vault sealed by incident INC-4242\n",
                   channel="G0SECRET01")
    slack.share_file("FSECRET", "G0SECRET01")
    thread = slack.start_assistant_thread(DM, ALICE)
    dispatch(workspace.app, event_body(thread_event("assistant_thread_started", thread, "G0SECRET01"), "Ev1"))
    wait_for(lambda: (DM, thread) in slack.state.suggested_prompts, what="the prompts")
    dispatch(workspace.app, event_body(user_message(workspace, thread, "why is the vault sealed?"), "Ev2"))
    wait_for(lambda: queued(workspace.redis) == 1, what="the job")
    run_worker_burst(workspace.redis)
    [answer] = bot_replies(workspace, thread)
    shown = answer["text"] + json.dumps(answer["blocks"])
    # the answer is in Alice's DM: the private channel's log is hers to read only if she is a member there
    assert ("secret.log" in shown) is alice_is_a_member
    assert ("INC-4242" in shown) is alice_is_a_member


def test_a_plain_dm_thread_falls_back_to_a_placeholder(workspace: Workspace) -> None:
    root = workspace.slack.add_message(DM, "hello", user=ALICE)  # a DM thread, not an assistant thread
    event = user_message(workspace, root["ts"], "how do I renew the TLS certificate?")
    dispatch(workspace.app, event_body(event))
    wait_for(lambda: queued(workspace.redis) == 1, what="the job")
    [placeholder] = bot_replies(workspace, root["ts"])
    assert "Looking through" in placeholder["text"]
    run_worker_burst(workspace.redis)
    [answer] = bot_replies(workspace, root["ts"])
    assert answer["ts"] == placeholder["ts"] and "TLS certificate expiry" in json.dumps(answer["blocks"])
