"""The buttons under every answer: the worker renders them, the bot handles their clicks.

Each button's value is the answer id (the question's job id), which names the answer record in Redis
(``jobs.feedback``); nothing else about the answer travels in the button.
"""

from __future__ import annotations

from typing import Any

VOTE_HELPFUL = "answer_helpful"
VOTE_NOT_HELPFUL = "answer_not_helpful"
ASK_HUMAN = "answer_ask_human"
WHAT_WAS_WRONG = "answer_what_was_wrong"  # callback id of the optional "what was wrong" modal
BLOCK_ID = "answer_actions"


def answer_actions(answer_id: str) -> dict[str, Any]:
    """An actions block: helpful / not helpful / ask a human."""
    def button(action_id: str, text: str, style: str | None = None) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "button", "action_id": action_id, "value": answer_id,
                                   "text": {"type": "plain_text", "text": text, "emoji": True}}
        if style:
            element["style"] = style
        return element

    return {"type": "actions", "block_id": BLOCK_ID, "elements": [
        button(VOTE_HELPFUL, ":thumbsup: Helpful"),
        button(VOTE_NOT_HELPFUL, ":thumbsdown: Not helpful"),
        button(ASK_HUMAN, ":sos: Ask a human", style="danger"),
    ]}
