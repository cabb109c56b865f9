"""Micro-batching: questions that arrive together are answered by one engine call.

Job threads (one RQ worker each) gather documents concurrently and submit their prepared question
here; a single model thread takes what is waiting (up to ``max_batch``, waiting at most ``window``
seconds for more after the first) and calls ``engine.answer_batch`` once, so compression and decoding
run batched on the GPU; indexing (worker/index/) takes the same ``model_lock`` between its batches, so
only one thread at a time touches the model.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextlib import AbstractContextManager, nullcontext

from worker.engine.base import Answer, Engine, Question

log = logging.getLogger(__name__)


class AnswerTimeoutError(Exception):
    """The model thread did not answer in time (a hung or overloaded engine)."""


class AnswerBatcher:
    def __init__(self, engine: Engine, max_batch: int = 8, window: float = 0.005,
                 model_lock: AbstractContextManager[object] | None = None) -> None:
        self.engine = engine
        self.model_lock: AbstractContextManager[object] = model_lock or nullcontext()  # shared with indexing
        self.max_batch = max_batch
        self.window = window
        self._waiting: queue.Queue[tuple[Question, Future[Answer]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="model", daemon=True)
        self._thread.start()
        self.batch_sizes: list[int] = []  # sizes of the batches run so far (tests, benchmarks)

    def answer(self, question: Question, timeout: float | None = None) -> Answer:
        """The engine's answer; raises ``AnswerTimeoutError`` after ``timeout`` seconds (a job thread
        must not wait past its job's timeout: RQ's timer cannot interrupt this wait)."""
        future: Future[Answer] = Future()
        self._waiting.put((question, future))
        try:
            return future.result(timeout)
        except FutureTimeoutError:
            raise AnswerTimeoutError(f"no answer from the engine within {timeout:.0f} s") from None

    def _take_batch(self) -> list[tuple[Question, Future[Answer]]]:
        batch = [self._waiting.get()]
        deadline = time.monotonic() + self.window
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._waiting.get(timeout=max(remaining, 0)) if remaining > 0
                             else self._waiting.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            self.batch_sizes.append(len(batch))
            try:
                self._answer(batch)
            except BaseException:  # never let the model thread die: every later question would hang
                log.exception("model thread: unexpected failure")
                for _, future in batch:
                    _settle(future, error=RuntimeError("the answer engine failed"))

    def _answer(self, batch: list[tuple[Question, Future[Answer]]]) -> None:
        try:
            with self.model_lock:
                answers = self.engine.answer_batch([q for q, _ in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"engine gave {len(answers)} answers to {len(batch)} questions")
        except Exception as error:
            if len(batch) == 1:
                log.exception("engine failed on a question")
                _settle(batch[0][1], error=error)
                return
            # one bad question must not fail the others batched with it: answer each on its own
            log.exception("engine failed on a batch of %d questions: answering them one by one", len(batch))
            for item in batch:
                self._answer([item])
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            _settle(future, answer=answer)


def _settle(future: Future[Answer], answer: Answer | None = None, error: BaseException | None = None) -> None:
    """Hand the result to the waiting job thread; one that gave up waiting (timeout) is skipped."""
    if future.done():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(answer)  # type: ignore[arg-type]
    except InvalidStateError:
        pass
