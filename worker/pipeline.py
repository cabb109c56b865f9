"""One question's path through the worker: gather which documents it may use, take their chunks from the
index, let the engine answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from jobs.payload import QuestionJob
from worker.batching import AnswerBatcher
from worker.deadline import Deadline
from worker.documents.base import GatherRequest
from worker.documents.document import Chunk
from worker.documents.gather import DocumentGatherer, Gathered
from worker.documents.runbook_lookup import RunbookMatch, find_runbook_section
from worker.engine.base import Answer, Citation, Engine, Question
from worker.errors import EmptyQuestionError, NoDocumentsError
from worker.index.chunk_index import ChunkIndex
from worker.progress import NoProgress, Progress

log = logging.getLogger(__name__)


RUNBOOK_LOOKUP = "runbook lookup (no model needed)"
GATHER_SHARE = 0.5  # of a job's time left, what gathering documents may take
RUNBOOK_PREVIEW_LINES = 25
GatheredHook = Callable[[QuestionJob, Gathered], None]


@dataclass
class PreparedQuestion:
    job: QuestionJob
    question: Question
    notes: list[str]
    answer: Answer | None = None  # already answered without the engine


def runbook_answer(match: RunbookMatch) -> Answer:
    """The matching runbook section, quoted (the first lines), citing its exact line range."""
    lines = [line for line in match.text.split("\n")]
    preview = lines[:RUNBOOK_PREVIEW_LINES]
    text = "\n".join(f"> {line}" for line in preview)
    if len(lines) > len(preview):
        text += f"\n> … ({len(lines) - len(preview)} more lines in the runbook)"
    chunk = Chunk(match.document, match.text, match.line_start, match.line_end)
    document = replace(match.document, title=match.title, link=match.link)
    return Answer(text=f"*{match.title}*\n{text}", citations=(Citation(replace(chunk, document=document),
                                                                         match.score),),
                  engine=RUNBOOK_LOOKUP, extractive=True)


class AnswerPipeline:
    """Gather which documents the question may be answered from, take their chunks from the index
    (indexing, within the question, any it has not seen), let the engine answer."""

    def __init__(self, gatherer: DocumentGatherer, engine: Engine, index: ChunkIndex,
                 batcher: AnswerBatcher | None = None, on_gathered: GatheredHook | None = None) -> None:
        self.gatherer = gatherer
        self.engine = engine
        self.index = index  # its model_lock is the engine's too: one thread at a time in the model
        self.batcher = batcher  # set when several job threads share the engine
        self.on_gathered = on_gathered  # told what each question's gathering found (App Home's source counts)

    @property
    def chunked_documents(self) -> int:
        """Documents whose chunks this worker holds in memory (the rest are in the index in Redis)."""
        return self.index.loaded_documents

    def answer(self, job: QuestionJob, timeout: float | None = None, progress: Progress | None = None) -> Answer:
        """``timeout``: seconds the job has left. Gathering may take ``GATHER_SHARE`` of it (less when the
        worker is asked to stop: worker/deadline.py); the rest is for the engine (with a batcher, how long
        to wait for the shared model thread, so that a job thread fails within its job's timeout instead
        of waiting on a hung engine for ever) and the reply. ``progress`` is told what is happening
        ("reading 12 documents…", "answering…")."""
        deadline = Deadline.after(timeout * GATHER_SHARE) if timeout is not None else None
        progress = progress or NoProgress()
        if self.batcher is None:
            return self.answer_batch([job], deadline, [progress])[0]
        prepared = self.prepare(job, deadline, progress)
        if prepared.answer is not None:
            return prepared.answer
        progress.update("answering…")
        answer = self.batcher.answer(prepared.question, timeout)
        return replace(answer, notes=(*prepared.notes, *answer.notes))

    def answer_batch(self, jobs: Sequence[QuestionJob], deadline: Deadline | None = None,
                     progress: Sequence[Progress] | None = None) -> list[Answer]:
        """Answer several questions with one engine call (the engine batches compression and decoding)."""
        progress = progress or [NoProgress()] * len(jobs)
        prepared = [self.prepare(job, deadline, p) for job, p in zip(jobs, progress, strict=True)]
        todo = [p for p in prepared if p.answer is None]
        for job_progress, p in zip(progress, prepared, strict=True):
            if p.answer is None:
                job_progress.update("answering…")
        with self.index.model_lock:
            generated = iter(self.engine.answer_batch([p.question for p in todo]) if todo else [])
        answers = []
        for p in prepared:
            answer = p.answer or next(generated)
            answers.append(replace(answer, notes=(*p.notes, *answer.notes)))
        return answers

    def prepare(self, job: QuestionJob, deadline: Deadline | None = None,
                progress: Progress | None = None) -> PreparedQuestion:
        """Gather (until ``deadline``), then the candidates from the index; a ``/runbook`` question whose
        section matches well is answered right here."""
        question = job.question.strip()
        if not question:
            raise EmptyQuestionError("Your question is empty: write it after the mention or the command.")
        progress = progress or NoProgress()
        gathered = self.gather(job, deadline)
        if self.on_gathered is not None:
            self.on_gathered(job, gathered)
        if job.mode == "runbook":
            match = find_runbook_section(question, gathered.documents)
            if match is not None:
                log.info("runbook lookup matched %s (score %.2f)", match.title, match.score)
                return PreparedQuestion(job, Question(question, []), [], answer=runbook_answer(match))
        if not gathered.documents:
            raise NoDocumentsError(
                "I found no documents I may read to answer this here: add runbooks, pin or upload "
                "files in this channel, or ask in a channel that has them."
                + ("\n" + "\n".join(gathered.notes) if gathered.notes else "")
            )
        count = len(gathered.documents)
        progress.update(f"reading {count} document{'s' if count != 1 else ''}…")
        told = progress

        def reading(done: int, total: int) -> None:
            told.update(f"reading {total} new documents… ({done} of {total} read)")

        candidates = self.index.candidates(gathered.documents, reading)
        log.info("question in %s: %d documents, %d chunks", job.channel, len(gathered.documents),
                 len(candidates.chunks))
        notes = list(dict.fromkeys([*gathered.notes, *candidates.notes]))
        return PreparedQuestion(job, Question(question, candidates.chunks, candidates), notes)

    def gather(self, job: QuestionJob, deadline: Deadline | None = None) -> Gathered:
        request = GatherRequest(channel=job.channel, user=job.user, thread_ts=job.thread_ts, mode=job.mode,
                                file_ids=job.file_ids, context_channel=job.context_channel, deadline=deadline)
        return self.gatherer.gather(request)
