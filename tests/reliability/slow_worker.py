"""A real worker process for the crash tests: ``run_worker`` with a deliberately slow fake engine.

    python -m tests.reliability.slow_worker --redis-url ... --queue ... --slack-api-url ... \
        --runbooks DIR --marker FILE [--seconds 60] [--release FILE] [--threads 1] [--heartbeat 20] \
        [--maintenance 60] [--links-host HOST:PORT --fetch-timeout 120]

The engine writes ``--marker`` when a question reaches it, then answers after ``--seconds``, or as soon
as the file ``--release`` exists: the test SIGKILLs the process meanwhile, mid-job, or holds the job
running until what it waits for has happened. With ``--links-host``, pages on that host linked in the
channel are gathered too (the deadline tests point it at a page that never finishes).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from redis import Redis

from jobs.slack_client import slack_client
from tests.fake_slack import BOT_TOKEN
from worker.batching import AnswerBatcher
from worker.context import WorkerContext, set_context
from worker.documents.base import Source
from worker.documents.document import Chunk
from worker.documents.gather import DocumentGatherer
from worker.documents.links import ChannelLinks
from worker.documents.pages import PageFetcher
from worker.documents.runbooks import RunbookFolder
from worker.engine.base import Answer, Citation, Question
from worker.pipeline import AnswerPipeline
from worker.queue_worker import run_worker
from worker.runtime import engine_index


class SlowEngine:
    """The ``worker.engine.base.Engine`` interface, answering after a long pause or when released."""

    name = "slow test engine"
    max_chunk_tokens = 200

    def __init__(self, marker: Path, seconds: float, release: Path | None = None) -> None:
        self.marker = marker
        self.seconds = seconds
        self.release = release

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def answer(self, question: str, chunks: Sequence[Chunk]) -> Answer:
        return self.answer_batch([Question(question, chunks)])[0]

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        self.marker.write_text("answering")
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline and not (self.release and self.release.exists()):
            time.sleep(0.05)
        return [Answer(text=f"slow answer to: {q.text}", citations=tuple(Citation(c, 1.0) for c in q.chunks[:1]),
                       engine=self.name) for q in questions]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--slack-api-url", required=True)
    parser.add_argument("--runbooks", type=Path, required=True)
    parser.add_argument("--marker", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--release", type=Path, help="answer as soon as this file exists")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--heartbeat", type=int, default=20, help="job heartbeat interval, seconds")
    parser.add_argument("--maintenance", type=int, default=60, help="registry maintenance interval, seconds")
    parser.add_argument("--links-host", default=None, help="gather pages linked in the channel from this host")
    parser.add_argument("--fetch-timeout", type=float, default=120.0, help="seconds for one linked page")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redis = Redis.from_url(args.redis_url)
    client = slack_client(BOT_TOKEN, args.slack_api_url)
    engine = SlowEngine(args.marker, args.seconds, args.release)
    batcher = AnswerBatcher(engine) if args.threads > 1 else None
    sources: list[Source] = [RunbookFolder(args.runbooks)]
    if args.links_host:
        fetcher = PageFetcher((args.links_host,), timeout_s=args.fetch_timeout, max_bytes=100_000)
        sources.append(ChannelLinks(client, fetcher, recent_messages=20, max_links=2, window_s=3600))
    pipeline = AnswerPipeline(DocumentGatherer(sources, client=client), engine, engine_index(engine),
                              batcher=batcher)
    set_context(WorkerContext(pipeline=pipeline, slack=client, redis=redis))
    run_worker(redis, args.queue, burst=False, threads=args.threads, heartbeat_interval=args.heartbeat,
               maintenance_interval=args.maintenance)


if __name__ == "__main__":
    main()
