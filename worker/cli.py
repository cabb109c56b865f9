"""``chatops``: ask the same pipeline the worker runs, from a terminal, without Slack; index a folder;
export the feedback people gave on answers in Slack (from the Redis at ``REDIS_URL``).

    chatops ask "How do I fail over the primary database?"            # examples/ by default
    chatops ask "What caused the 502s?" --docs runbooks/ --file app.log --mode logs
    chatops index runbooks/ --redis redis://127.0.0.1:6379/0            # what the workers will read
    chatops feedback export > feedback.jsonl                          # one JSON object per vote

Without ``--redis`` the index lives in this process only; with it, in the Redis the workers share (the
same engine settings must be used, or the workers will not find the entries: they are keyed by model).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from redis import Redis
from redis.exceptions import RedisError
from tqdm import tqdm

from jobs.env import SettingsError
from jobs.feedback import export_votes
from jobs.payload import QuestionJob
from worker.documents.base import Source
from worker.documents.gather import DocumentGatherer
from worker.documents.local_files import LocalFiles
from worker.documents.runbooks import RunbookFolder
from worker.engine.base import Answer
from worker.errors import ChatOpsError
from worker.index.chunk_index import ChunkIndex, IndexReport
from worker.index.runbook_sync import RunbookSync
from worker.pipeline import AnswerPipeline
from worker.runtime import engine_index, load_engine
from worker.settings import WorkerSettings

DEFAULT_DOCS = Path(__file__).resolve().parent.parent / "examples" / "runbooks"


def format_answer(answer: Answer) -> str:
    lines = [answer.text, ""]
    if answer.citations:
        lines.append("Sources:")
        for i, citation in enumerate(answer.citations, start=1):
            chunk = citation.chunk
            where = chunk.document.link or chunk.document.doc_id
            lines.append(f"  {i}. {chunk.document.title} ({where}:{chunk.lines})"
                         f"  score {citation.score:.2f}")
    lines.extend(f"Note: {note}" for note in answer.notes)
    lines.append(f"[{answer.engine}]")
    return "\n".join(lines)


def format_report(report: IndexReport, where: str) -> str:
    return (f"{report.documents} documents: {report.indexed} indexed now ({report.chunks} chunks in "
            f"{report.seconds:.1f} s, {report.chunks_per_second:.0f} chunks/s), {report.reused} already "
            f"indexed; index in {where}")


class ProgressBar:
    """A ``Progress`` callback drawing a terminal bar of the documents indexed (to stderr)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.what, unit="doc", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatops", description="Ask the chat-ops bot from a terminal.")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one question from local documents")
    ask.add_argument("question")
    ask.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="runbook folder (default: examples)")
    ask.add_argument("--file", type=Path, action="append", default=[], help="a log or text file (repeatable)")
    ask.add_argument("--mode", choices=["ask", "runbook", "logs"], default="ask")
    index = sub.add_parser("index", help="index a runbook folder (progress bar; prints what it did)")
    index.add_argument("folder", type=Path)
    for command in (ask, index):
        command.add_argument("--redis", metavar="URL", help="keep the index in this Redis (the workers' one)")
        command.add_argument("-v", "--verbose", action="store_true")
    feedback = sub.add_parser("feedback", help="the votes on answers given in Slack")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_sub.add_parser("export", help="write every vote as JSON Lines (question, cited chunk "
                                                    "ids, engine, times, vote, reason)")
    export.add_argument("--output", "-o", type=Path, help="a file to write (default: standard output)")
    args = parser.parse_args(argv)

    verbose = args.command in ("ask", "index") and args.verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = WorkerSettings.from_env(os.environ)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "feedback":
        return export_feedback(Redis.from_url(settings.redis_url), args.output)
    engine = load_engine(settings)
    redis = Redis.from_url(args.redis) if args.redis else None
    chunk_index = engine_index(engine, redis, settings.index)
    if args.command == "index":
        return index_folder(args.folder, chunk_index, settings)
    sources: list[Source] = [RunbookFolder(args.docs), LocalFiles(args.file, settings.gathering)]
    pipeline = AnswerPipeline(DocumentGatherer(sources), engine, chunk_index)
    job = QuestionJob(question=args.question, channel="cli", user="cli", mode=args.mode, source="cli")
    try:
        answer = pipeline.answer(job)
    except ChatOpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(format_answer(answer))
    return 0


def index_folder(folder: Path, chunk_index: ChunkIndex, settings: WorkerSettings) -> int:
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 1
    sync = RunbookSync(RunbookFolder(folder, max_bytes=settings.gathering.max_runbook_bytes), chunk_index)
    bar = ProgressBar(f"indexing {folder}")
    try:
        report = sync.sync(bar)
    finally:
        bar.close()
    print(format_report(report, chunk_index.store.where))
    return 0


def export_feedback(redis: Redis, output: Path | None) -> int:
    try:
        if output is None:
            written = _write_votes(redis, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as handle:
                written = _write_votes(redis, handle)
    except RedisError as error:
        print(f"error: cannot read the feedback from Redis: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot write {output}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"{written} vote{'s' if written != 1 else ''} exported", file=sys.stderr)
    return 0


def _write_votes(redis: Redis, out: TextIO) -> int:
    written = 0
    for vote in export_votes(redis):
        out.write(json.dumps(vote, ensure_ascii=False) + "\n")
        written += 1
    return written


if __name__ == "__main__":
    sys.exit(main())
