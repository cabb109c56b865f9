"""The RQ job: answer one question and put the answer in its Slack thread. Never silent."""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from jobs.errors import ChatOpsError
from jobs.payload import QuestionJob
from worker.context import WorkerContext, current_context
from worker.engine.base import Answer
from worker.slack_reply import deliver, render_answer, render_failure

log = logging.getLogger(__name__)

RETRYING = "I hit a problem while answering and am trying once more…"
RETRYING_AFTER_CRASH = "The worker answering this stopped unexpectedly; another one is trying again…"
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
    # any other exception fails the job: RQ retries it or calls report_failure, which tells the user
    return post_answer(context, job, answer)


def report_failure(rq_job: Job, connection: Redis, exc_type: type[BaseException] | None,
                   exc_value: BaseException | None, traceback: object) -> None:
    """RQ failure callback: tell the user, in the placeholder, that the answer failed or is retried.

    Runs in the worker that ran the job, or in the one that found it abandoned (its worker died)."""
    job = QuestionJob.from_dict(rq_job.args[0])
    abandoned = exc_type is not None and issubclass(exc_type, AbandonedJobError)
    log.error("question %s failed (%s); retries left: %s", rq_job.id,
              "worker died mid-job" if abandoned else getattr(exc_type, "__name__", exc_type),
              rq_job.retries_left)
    if rq_job.retries_left:
        text = RETRYING_AFTER_CRASH if abandoned else RETRYING
    else:
        text = INTERNAL_ERROR.format(ref=rq_job.id)
    deliver(current_context().slack, job, render_failure(text))


def post_answer(context: WorkerContext, job: QuestionJob, answer: Answer) -> dict[str, Any]:
    ts = deliver(context.slack, job, render_answer(answer))
    return {
        "answered": True,
        "ts": ts,
        "engine": answer.engine,
        "citations": [{"chunk": c.chunk.chunk_id, "score": round(c.score, 4)} for c in answer.citations],
    }
