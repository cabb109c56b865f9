"""Helpful / not helpful buttons on every answer: one vote per user per answer, the "what was wrong" modal,
``chatops feedback export``; end to end through signed requests, the fake Slack Web API and real Redis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rq.job import Job

from jobs.answer_actions import ASK_HUMAN, VOTE_HELPFUL, VOTE_NOT_HELPFUL, WHAT_WAS_WRONG
from jobs.enqueue import question_queue
from jobs.feedback import ALL_CHANNELS, Counts, recent_counts, votes
from tests.app_surface.conftest import ALICE, BOB, CHANNEL, Workspace
from tests.conftest import REDIS_URL
from tests.helpers import QUEUE, wait_for
from worker.cli import main as chatops


def reason_submission(view: dict, user: str, reason: str) -> dict:
    """Slack's ``view_submission`` for the modal, with ``reason`` typed in."""
    return {"type": "view_submission", "token": "legacy", "api_app_id": "A0001",
            "team": {"id": "T0001", "domain": "example"}, "user": {"id": user, "team_id": "T0001"},
            "view": {**view, "id": "VM0001", "state": {"values": {"reason": {"reason": {
                "type": "plain_text_input", "value": reason}}}}}}


def test_every_answer_has_the_buttons(workspace: Workspace) -> None:
    answer = workspace.ask("how do I fail over the primary postgres database?")
    [actions] = [b for b in answer["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [VOTE_HELPFUL, VOTE_NOT_HELPFUL, ASK_HUMAN]
    job_id = actions["elements"][0]["value"]
    assert Job.fetch(job_id, connection=workspace.redis, serializer=question_queue(workspace.redis, QUEUE)
                     .serializer).is_finished, "the buttons name the answer by its question's job id"


def test_a_vote_twice_counts_once_and_a_changed_vote_replaces_the_first(workspace: Workspace,
                                                                       tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    redis = workspace.redis
    answer = workspace.ask("how do I fail over the primary postgres database?")
    answer_id = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"][0]["value"]

    def counts() -> Counts:
        return recent_counts(redis, [CHANNEL])[CHANNEL]

    workspace.click(answer, VOTE_HELPFUL, ALICE)
    wait_for(lambda: len(workspace.ephemeral_replies(ALICE)) == 1, what="the first acknowledgement")
    workspace.click(answer, VOTE_HELPFUL, ALICE)
    wait_for(lambda: len(workspace.ephemeral_replies(ALICE)) == 2, what="the second acknowledgement")
    assert counts() == Counts(helpful=1, not_helpful=0)
    assert workspace.ephemeral_replies(ALICE) == ["Thanks: counted as helpful.",
                                                  "You already said this answer was helpful: counted once."]

    # not helpful: counted at once, then the optional modal asks what was wrong
    workspace.click(answer, VOTE_NOT_HELPFUL, BOB, trigger_id="trigger-bob")
    wait_for(lambda: workspace.slack.state.opened_views, what="the modal")
    [modal] = workspace.slack.state.opened_views
    assert workspace.slack.calls_to("views.open")[0].args["trigger_id"] == "trigger-bob"
    assert modal["callback_id"] == WHAT_WAS_WRONG and modal["private_metadata"] == answer_id
    assert counts() == Counts(helpful=1, not_helpful=1)
    assert workspace.interact(reason_submission(modal, BOB, "It cited the old failover steps")).status == 200
    wait_for(lambda: votes(redis, answer_id)[BOB].reason, what="the reason")

    # Alice changes her mind: her vote moves, it is not added
    workspace.click(answer, VOTE_NOT_HELPFUL, ALICE, trigger_id="trigger-alice")
    wait_for(lambda: len(workspace.slack.state.opened_views) == 2, what="Alice's modal")
    assert counts() == Counts(helpful=0, not_helpful=2)
    assert recent_counts(redis, [ALL_CHANNELS])[ALL_CHANNELS] == Counts(helpful=0, not_helpful=2)
    assert {u: v.vote for u, v in votes(redis, answer_id).items()} == {ALICE: "not_helpful", BOB: "not_helpful"}
    assert workspace.bot_metrics.votes.labels("helpful")._value.get() == 1  # the repeat was not counted
    assert workspace.bot_metrics.votes.labels("not_helpful")._value.get() == 2

    # nothing the voters were shown holds a document's text; the record keeps chunk ids only
    shown = json.dumps(workspace.slack.state.opened_views) + json.dumps(workspace.ephemeral_replies(ALICE))
    assert "patronictl" not in shown and "Database failover" not in shown

    out = tmp_path / "feedback.jsonl"
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    assert chatops(["feedback", "export", "--output", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(line["user"], line["vote"]) for line in lines] == [(BOB, "not_helpful"), (ALICE, "not_helpful")]
    bob = lines[0]
    assert bob["question"] == "how do I fail over the primary postgres database?"
    assert bob["reason"] == "It cited the old failover steps" and bob["answer_id"] == answer_id
    assert bob["chunks"][0].startswith("runbook:db-failover.md#L") and bob["engine"].startswith("default")
    assert bob["channel"] == CHANNEL and bob["answered_at"] <= bob["voted_at"]


def test_a_vote_on_an_answer_no_longer_known_is_refused_with_the_reason(workspace: Workspace) -> None:
    answer = workspace.ask("how do I renew the TLS certificate?")
    for block in answer["blocks"]:
        for element in block.get("elements", []):
            if "value" in element:
                element["value"] = "q-forgotten"
    workspace.click(answer, VOTE_HELPFUL, ALICE)
    wait_for(lambda: workspace.ephemeral_replies(ALICE), what="the refusal")
    assert "no longer know that answer" in workspace.ephemeral_replies(ALICE)[0]
    assert recent_counts(workspace.redis, [CHANNEL])[CHANNEL] == Counts()
