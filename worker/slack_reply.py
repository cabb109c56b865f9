"""Rendering an answer as a Slack message and putting it where the user waits for it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from jobs.answer_actions import answer_actions
from jobs.payload import QuestionJob
from jobs.slack_text import escape_mrkdwn
from worker.engine.base import Answer, Citation

log = logging.getLogger(__name__)

SECTION_LIMIT = 3000  # characters in one section block
BLOCK_LIMIT = 50  # blocks in one message
FALLBACK_LIMIT = 3000  # characters of the plain-text fallback (notifications, screen readers)
MAX_SOURCES = 8


def _split(text: str, limit: int) -> list[str]:
    pieces = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        pieces.append(text)
    return pieces


def slack_link_url(url: str) -> str:
    """``url`` made safe inside Slack's ``<url|label>``: the characters that would end or split the link,
    or start a ping (``<``, ``>``, ``|``), whitespace and control characters are percent-encoded, and ``&``
    is written ``&amp;`` as Slack expects. A bookmark link ``https://x/a> <!here> <b`` stays one link."""
    escaped = "".join(f"%{ord(c):02X}" if c in "<>|" or c.isspace() or ord(c) < 32 or ord(c) == 127 else c
                      for c in url)
    return escaped.replace("&", "&amp;")


def citation_label(citation: Citation) -> str:
    """``<link|title>`` (or the title and path), the line range, and the score. A runbook link points at the
    cited lines (``#L12-L30``) unless it already points somewhere in the file (a section's ``#anchor``)."""
    chunk = citation.chunk
    document = chunk.document
    title = escape_mrkdwn(document.title).replace("|", "¦")
    link = document.link
    if link and link.startswith(("http://", "https://")):
        if document.kind == "runbook" and "#" not in link:
            link = f"{link}#L{chunk.line_start}-L{chunk.line_end}"
        label = f"<{slack_link_url(link)}|{title}>"
    elif document.link:
        label = f"{title} (`{escape_mrkdwn(document.link)}`)"
    else:
        label = title
    if document.kind == "log":
        lines = f"`{escape_mrkdwn(document.title)}:{chunk.lines}`"
    else:
        lines = f"{'line' if chunk.line_start == chunk.line_end else 'lines'} {chunk.lines}"
    return f"{label} · {lines} · score {citation.score:.2f}"


@dataclass(frozen=True)
class SlackMessage:
    text: str  # plain fallback
    blocks: list[dict[str, Any]]


def source_labels(answer: Answer) -> list[str]:
    """The numbered sources as listed under the answer."""
    return [f"{i}. {citation_label(c)}" for i, c in enumerate(answer.citations[:MAX_SOURCES], start=1)]


def render_answer(answer: Answer, answer_id: str | None = None) -> SlackMessage:
    """The answer, its sources and notes; with ``answer_id``, the feedback and hand-off buttons."""
    body = answer.text.strip() or "(no answer)"
    if not answer.extractive:
        body = escape_mrkdwn(body)
    else:  # extractive answers are quoted lines of documents: escape each, keep the quote marks
        body = "\n".join("> " + escape_mrkdwn(line[2:]) if line.startswith("> ") else escape_mrkdwn(line)
                         for line in body.split("\n"))
    header = "*Extracted from the documents:*\n" if answer.extractive else ""
    blocks: list[dict[str, Any]] = []
    for piece in _split(header + body, SECTION_LIMIT):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
    blocks = blocks[: BLOCK_LIMIT - 5]  # room for the sources, notes, footer and buttons
    if answer.citations:
        text = "*Sources*\n" + "\n".join(source_labels(answer))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}})
    notes = [escape_mrkdwn(n) for n in answer.notes]
    if notes:
        note_text = "\n".join(f":information_source: {n}" for n in notes)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note_text[:SECTION_LIMIT]}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Answered by {answer.engine}"}]})
    if answer_id:
        blocks.append(answer_actions(answer_id))
    return SlackMessage(text=(header + body)[:FALLBACK_LIMIT], blocks=blocks)


def render_failure(reason: str) -> SlackMessage:
    text = f":warning: {escape_mrkdwn(reason)}"  # reasons name files: no <!channel> through a file name
    return SlackMessage(text=text[:FALLBACK_LIMIT],
                        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}])


def deliver(client: WebClient, job: QuestionJob, message: SlackMessage) -> str | None:
    """Edit the placeholder into ``message``; post a new reply if it is gone; answer through the
    slash command's response_url when the bot cannot post in the channel. Returns the message ts."""
    if job.placeholder_ts:
        try:
            client.chat_update(channel=job.channel, ts=job.placeholder_ts, text=message.text,
                               blocks=message.blocks)
            return job.placeholder_ts
        except SlackApiError as error:
            code = error.response.get("error")
            if code not in ("message_not_found", "cant_update_message", "edit_window_closed"):
                raise
            log.info("placeholder %s in %s is gone (%s): posting a new reply", job.placeholder_ts,
                     job.channel, code)
    try:
        response = client.chat_postMessage(channel=job.channel, thread_ts=job.thread_ts, text=message.text,
                                           blocks=message.blocks)
        return str(response["ts"])
    except SlackApiError as error:
        if not job.response_url:
            raise
        log.info("cannot post in %s (%s): answering through the response_url", job.channel,
                 error.response.get("error"))
    # no repeat after a lost connection (the SDK's default): the reply may have arrived, and a
    # response_url takes only five messages
    webhook = WebhookClient(job.response_url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    sent = webhook.send(text=message.text, blocks=message.blocks, response_type="in_channel")
    if sent.status_code != 200:  # expired (30 min, 5 uses) or refused: the answer did not arrive
        raise ReplyNotDeliveredError(f"Slack refused the reply through the response_url: HTTP "
                                     f"{sent.status_code} {sent.body[:100]!r}")
    return None


class ReplyNotDeliveredError(Exception):
    """Neither the channel nor the slash command's response_url took the reply."""
