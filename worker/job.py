"""The RQ job: answer one question and put the answer in its Slack thread. Never silent."""

from __future__ import annotations

import logging
from typing import Any

from rq import get_current_job

from jobs.errors import ChatOpsError
from jobs.payload import QuestionJob
from worker.context import WorkerContext, current_context
from worker.engine.base import Answer
from worker.slack_reply import deliver, render_answer, render_failure

log = logging.getLogger(__name__)

INTERNAL_ERROR = ("Something went wrong while answering (reference `{ref}`). "
                  "The team has the details in the worker log; please try again later.")


def answer_question(payload: dict[str, Any]) -> dict[str, Any]:
    """Entry point named by ``jobs.enqueue.ANSWER_QUESTION``."""
    context = current_context()
    job = QuestionJob.from_dict(payload)
    current = get_current_job()
    ref = current.id if current else "cli"
    try:
        answer = context.pipeline.answer(job)
    except ChatOpsError as error:
        log.info("question %s not answered: %s", ref, error)
        deliver(context.slack, job, render_failure(str(error)))
        return {"answered": False, "reason": type(error).__name__}
    except Exception:
        log.exception("question %s failed", ref)
        deliver(context.slack, job, render_failure(INTERNAL_ERROR.format(ref=ref)))
        raise
    return post_answer(context, job, answer)


def post_answer(context: WorkerContext, job: QuestionJob, answer: Answer) -> dict[str, Any]:
    ts = deliver(context.slack, job, render_answer(answer, context.runbook_base_url))
    return {
        "answered": True,
        "ts": ts,
        "engine": answer.engine,
        "citations": [{"chunk": c.chunk.chunk_id, "score": round(c.score, 4)} for c in answer.citations],
    }
