"""Questions that arrive together are answered by one engine call, each exactly once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from redis import Redis

from jobs.enqueue import enqueue_question, question_queue
from jobs.payload import QuestionJob
from tests.fake_slack import BOT_USER_ID, FakeSlack
from tests.helpers import QUEUE, worker_context
from tests.runbooks import write_runbooks
from worker.batching import AnswerBatcher
from worker.documents.document import Chunk
from worker.engine.base import Answer, Citation, Question
from worker.queue_worker import run_worker


class RecordingEngine:
    """A fake engine with the real interface: cites the first chunk, records its batch sizes."""

    name = "recording"
    max_chunk_tokens = 64

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def answer(self, question: str, chunks: Sequence[Chunk]) -> Answer:
        return self.answer_batch([Question(question, chunks)])[0]

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        with self.lock:
            self.batches.append(len(questions))
        time.sleep(0.05)  # a model call takes a while: later questions queue up meanwhile
        return [Answer(text=f"answer to: {q.text}", citations=(Citation(q.chunks[0], 1.0),), engine=self.name)
                for q in questions]


def test_concurrent_questions_share_engine_calls_and_each_is_answered_once(
    slack: FakeSlack, redis: Redis, tmp_path: Path
) -> None:
    slack.add_channel("C1", "ops")
    engine = RecordingEngine()
    queue = question_queue(redis, QUEUE)
    with worker_context(slack, redis, engine, write_runbooks(tmp_path / "rb")) as context:
        context.pipeline.batcher = AnswerBatcher(engine, max_batch=8, window=0.02)
        for i in range(16):
            message = slack.add_message("C1", f"question {i}")
            placeholder = slack.add_message("C1", "working", user=BOT_USER_ID, thread_ts=message["ts"])
            job = QuestionJob(question=f"question number {i}", channel="C1", user="U1",
                              thread_ts=message["ts"], placeholder_ts=placeholder["ts"])
            enqueue_question(queue, job, f"q-{i}")
        run_worker(redis, QUEUE, burst=True, threads=8)

    assert sum(engine.batches) == 16
    assert max(engine.batches) > 1, f"no batching happened: {engine.batches}"
    assert len(engine.batches) < 16
    updates = slack.calls_to("chat.update")
    assert sorted(u.args["text"] for u in updates) == sorted(f"answer to: question number {i}" for i in range(16))
    answered = [m for m in slack.state.messages["C1"] if m["text"].startswith("answer to:")]
    assert len(answered) == 16
    assert all("Answered by recording" in json.dumps(m["blocks"]) for m in answered)


class FaultyEngine(RecordingEngine):
    """Fails any batch that holds the question "poison"; can also return too few answers, or hang."""

    def __init__(self, short: bool = False, hang: threading.Event | None = None) -> None:
        super().__init__()
        self.short = short
        self.hang = hang

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        if self.hang is not None:
            self.hang.wait(10)
        if any(q.text == "poison" for q in questions):
            raise ValueError("the engine chokes on this question")
        answers = super().answer_batch(questions)
        return answers[:-1] if self.short and len(answers) > 1 else answers


def _question(text: str) -> Question:
    from worker.documents.document import Document

    document = Document("d", "d", "text")
    return Question(text, [Chunk(document, "text", 1, 1, 0)])


def _ask_together(batcher: AnswerBatcher, texts: list[str]) -> dict[str, object]:
    results: dict[str, object] = {}

    def ask(text: str) -> None:
        try:
            results[text] = batcher.answer(_question(text), timeout=20).text
        except Exception as error:  # the test looks at which questions failed
            results[text] = error

    threads = [threading.Thread(target=ask, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_one_bad_question_does_not_fail_the_others_in_its_batch() -> None:
    batcher = AnswerBatcher(FaultyEngine(), max_batch=8, window=0.2)
    results = _ask_together(batcher, ["a", "poison", "b"])
    assert results["a"] == "answer to: a" and results["b"] == "answer to: b"
    assert isinstance(results["poison"], ValueError)
    assert max(batcher.batch_sizes) > 1, "they were batched together first"


def test_an_engine_returning_too_few_answers_fails_those_questions_and_the_model_thread_lives_on() -> None:
    batcher = AnswerBatcher(FaultyEngine(short=True), max_batch=8, window=0.2)
    results = _ask_together(batcher, ["a", "b", "c"])
    assert set(results) == {"a", "b", "c"}, "nobody is left waiting"
    assert all(r == f"answer to: {q}" for q, r in results.items()), results  # one by one, each answered
    assert batcher.answer(_question("later"), timeout=5).text == "answer to: later"


def test_a_hung_engine_times_the_question_out() -> None:
    from worker.batching import AnswerTimeoutError

    release = threading.Event()
    batcher = AnswerBatcher(FaultyEngine(hang=release), max_batch=8, window=0.0)
    started = time.monotonic()
    try:
        batcher.answer(_question("a"), timeout=0.5)
    except AnswerTimeoutError:
        pass
    else:
        raise AssertionError("the wait did not time out")
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert batcher.answer(_question("b"), timeout=5).text == "answer to: b", "the late result harmed nothing"
