"""The helpful / not helpful buttons under every answer, and the optional "what was wrong" modal.

A vote is recorded against the answer record the worker wrote (``jobs.feedback``): one per user per
answer. The voter sees only an ephemeral acknowledgement or the modal, which asks for a reason and shows
nothing of the answer's documents (the record holds chunk ids, and neither is echoed).
"""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.metrics import BotMetrics
from jobs.answer_actions import VOTE_HELPFUL, VOTE_NOT_HELPFUL, WHAT_WAS_WRONG
from jobs.feedback import HELPFUL, MAX_REASON_CHARS, NOT_HELPFUL, answer_record, record_vote

log = logging.getLogger(__name__)

UNKNOWN_ANSWER = "I no longer know that answer (answers can be rated for 90 days), so the vote was not counted."
UNAVAILABLE = "I could not record your vote just now (the feedback store is unavailable). Please try again."
REASON_BLOCK = "reason"
THANKS = {
    (None, HELPFUL): "Thanks: counted as helpful.",
    (HELPFUL, HELPFUL): "You already said this answer was helpful: counted once.",
    (NOT_HELPFUL, HELPFUL): "Changed your vote to helpful.",
}


def what_was_wrong_view(answer_id: str) -> dict[str, Any]:
    """The modal: a free-text reason, optional. It shows no part of the answer or its documents."""
    return {
        "type": "modal", "callback_id": WHAT_WAS_WRONG, "private_metadata": answer_id,
        "title": {"type": "plain_text", "text": "What was wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                "Thanks: your vote is counted. If you say what was wrong (the wrong runbook, an outdated "
                "step, a missed question…), the team can fix the documents.")}},
            {"type": "input", "block_id": REASON_BLOCK, "optional": True,
             "label": {"type": "plain_text", "text": "What was wrong? (optional)"},
             "element": {"type": "plain_text_input", "action_id": REASON_BLOCK, "multiline": True,
                         "max_length": MAX_REASON_CHARS}},
        ],
    }


def register_feedback(app: App, redis: Redis, metrics: BotMetrics) -> None:
    def vote(answer_id: str, user: str, value: str, respond: Respond | None, reason: str = "") -> bool:
        """Record the vote; tells the user (through ``respond``) when it could not be. True when recorded."""
        try:
            record = answer_record(redis, answer_id)
            if record is None:
                if respond is not None:
                    respond(text=UNKNOWN_ANSWER, response_type="ephemeral", replace_original=False)
                return False
            previous = record_vote(redis, record, user, value, reason)
        except RedisError as error:
            log.warning("could not record a vote on %s: %s", answer_id, error)
            if respond is not None:
                respond(text=UNAVAILABLE, response_type="ephemeral", replace_original=False)
            return False
        if previous != value:
            metrics.votes.labels(value).inc()
        log.info("vote %s on %s (previously %s)", value, answer_id, previous)
        if respond is not None and value == HELPFUL:
            respond(text=THANKS[(previous, value)], response_type="ephemeral", replace_original=False)
        return True

    @app.action(VOTE_HELPFUL)
    def on_helpful(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        vote(action["value"], body["user"]["id"], HELPFUL, respond)

    @app.action(VOTE_NOT_HELPFUL)
    def on_not_helpful(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond,
                       client: WebClient) -> None:
        ack()
        if not vote(action["value"], body["user"]["id"], NOT_HELPFUL, respond):
            return
        try:  # the trigger id lives 3 seconds: the vote counts whether or not the modal opens
            client.views_open(trigger_id=body["trigger_id"], view=what_was_wrong_view(action["value"]))
        except SlackApiError as error:
            log.warning("could not open the feedback modal: %s", error.response.get("error"))
            respond(text="Thanks: counted as not helpful.", response_type="ephemeral", replace_original=False)

    @app.view(WHAT_WAS_WRONG)
    def on_reason(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        values = view.get("state", {}).get("values", {})
        reason = (values.get(REASON_BLOCK, {}).get(REASON_BLOCK, {}).get("value") or "").strip()
        if reason:
            vote(view["private_metadata"], body["user"]["id"], NOT_HELPFUL, None, reason)
