"""Micro-batching: questions that arrive together are answered by one engine call.

Job threads (one RQ worker each) gather documents concurrently and submit their prepared question
here; a single model thread takes what is waiting (up to ``max_batch``, waiting at most ``window``
seconds for more after the first) and calls ``engine.answer_batch`` once, so compression and decoding
run batched on the GPU while only this thread ever touches the model.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

from worker.engine.base import Answer, Engine, Question

log = logging.getLogger(__name__)


class AnswerBatcher:
    def __init__(self, engine: Engine, max_batch: int = 8, window: float = 0.005) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.window = window
        self._waiting: queue.Queue[tuple[Question, Future[Answer]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="model", daemon=True)
        self._thread.start()
        self.batch_sizes: list[int] = []  # sizes of the batches run so far (tests, benchmarks)

    def answer(self, question: Question, timeout: float | None = None) -> Answer:
        future: Future[Answer] = Future()
        self._waiting.put((question, future))
        return future.result(timeout)

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
                answers = self.engine.answer_batch([q for q, _ in batch])
            except BaseException as error:  # hand the failure to every waiting job, keep serving
                log.exception("engine failed on a batch of %d questions", len(batch))
                for _, future in batch:
                    future.set_exception(error)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                future.set_result(answer)
