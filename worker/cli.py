"""``chatops``: ask the same pipeline the worker runs, from a terminal, without Slack; index a folder;
export the feedback people gave on answers in Slack (from the Redis at ``REDIS_URL``).

    chatops ask "How do I fail over the primary database?"            # examples/ by default
    chatops ask "What caused the 502s?" --docs runbooks/ --file app.log --mode logs
    chatops ask "Why did checkout fail?" --file app.log --mode logs --json
    chatops ask --questions questions.txt --docs runbooks/ > answers.jsonl
    chatops index runbooks/ --redis redis://127.0.0.1:6379/0            # what the workers will read
    chatops feedback export > feedback.jsonl                          # one JSON object per vote

``--json`` prints the answer as one JSON object: the question, the answer text, the engine, notes, the
seconds it took, and every citation (title, document id, ``path`` for a local file or ``link`` for a URL,
``line_start``, ``line_end``, ``score``). ``--questions FILE`` answers every line of FILE (blank lines
and lines starting with ``#`` skipped) in one process, one JSON object per line (JSON Lines); a question
that fails gets ``"error"`` instead of an answer, and the exit status is 1 if any failed.

Without ``--redis`` the index lives in this process only; with it, in the Redis the workers share (the
same engine settings must be used, or the workers will not find the entries: they are keyed by model).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

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
from worker.engine.base import Answer, Citation, Engine
from worker.errors import ChatOpsError
from worker.index.chunk_index import ChunkIndex, IndexReport
from worker.index.runbook_sync import RunbookSync
from worker.pipeline import AnswerPipeline
from worker.runtime import engine_index, load_engine
from worker.settings import WorkerSettings

DEFAULT_DOCS = Path(__file__).resolve().parent.parent / "examples" / "runbooks"


def citation_record(citation: Citation) -> dict[str, Any]:
    chunk = citation.chunk
    document = chunk.document
    link = document.link or ""
    is_url = link.startswith(("http://", "https://"))
    return {"title": document.title, "doc_id": document.doc_id, "path": None if is_url else (link or None),
            "link": link if is_url else None, "line_start": chunk.line_start, "line_end": chunk.line_end,
            "score": round(citation.score, 4)}


def answer_record(question: str, answer: Answer, seconds: float) -> dict[str, Any]:
    """One answer as the JSON object that ``--json`` and ``--questions`` print."""
    return {"question": question, "answer": answer.text, "engine": answer.engine, "extractive": answer.extractive,
            "notes": list(answer.notes), "seconds": round(seconds, 3),
            "citations": [citation_record(c) for c in answer.citations]}


def answer_one(pipeline: AnswerPipeline, question: str, mode: str = "ask") -> tuple[Answer | ChatOpsError, float]:
    """The answer (or why there is none: no documents, an empty question) and the seconds it took."""
    started = time.perf_counter()
    job = QuestionJob(question=question, channel="cli", user="cli", mode=mode, source="cli")
    try:
        result: Answer | ChatOpsError = pipeline.answer(job)
    except ChatOpsError as error:
        result = error
    return result, time.perf_counter() - started


def ask(pipeline: AnswerPipeline, question: str, mode: str = "ask") -> dict[str, Any]:
    """One question's JSON record: ``answer_record``, or ``{"question", "error", "seconds"}``."""
    result, seconds = answer_one(pipeline, question, mode)
    if isinstance(result, ChatOpsError):
        return {"question": question, "error": str(result), "seconds": round(seconds, 3)}
    return answer_record(question, result, seconds)


def read_questions(path: Path) -> list[str]:
    """One question per line; blank lines and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ChatOpsError(f"cannot read the questions file {path}: {error.strerror}") from error
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


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
    ask_parser = sub.add_parser("ask", help="answer questions from local documents")
    ask_parser.add_argument("question", nargs="?", help="the question (or use --questions)")
    ask_parser.add_argument("--questions", type=Path, metavar="FILE",
                            help="answer every line of FILE, printing JSON Lines")
    ask_parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask_parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="runbook folder (default: examples)")
    ask_parser.add_argument("--file", type=Path, action="append", default=[],
                            help="a log or text file (repeatable)")
    ask_parser.add_argument("--mode", choices=["ask", "runbook", "logs"], default="ask")
    index = sub.add_parser("index", help="index a runbook folder (progress bar; prints what it did)")
    index.add_argument("folder", type=Path)
    for command in (ask_parser, index):
        command.add_argument("--redis", metavar="URL", help="keep the index in this Redis (the workers' one)")
        command.add_argument("-v", "--verbose", action="store_true")
    feedback = sub.add_parser("feedback", help="the votes on answers given in Slack")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_sub.add_parser("export", help="write every vote as JSON Lines (question, cited chunk "
                                                    "ids, engine, times, vote, reason)")
    export.add_argument("--output", "-o", type=Path, help="a file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.command == "ask" and (args.question is None) == (args.questions is None):
        parser.error("give either a question or --questions FILE")

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
    try:
        questions = read_questions(args.questions) if args.command == "ask" and args.questions else []
    except ChatOpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    engine = load_engine(settings)
    redis = Redis.from_url(args.redis) if args.redis else None
    chunk_index = engine_index(engine, redis, settings.index)
    if args.command == "index":
        return index_folder(args.folder, chunk_index, settings)
    pipeline = local_pipeline(engine, chunk_index, settings, args.docs, args.file)
    if args.questions:
        failed = 0
        for question in questions:
            record = ask(pipeline, question, args.mode)
            failed += "error" in record
            print(json.dumps(record, ensure_ascii=False), flush=True)
        return 1 if failed else 0
    result, seconds = answer_one(pipeline, args.question, args.mode)
    if isinstance(result, ChatOpsError):
        print(f"error: {result}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer_record(args.question, result, seconds), ensure_ascii=False, indent=2))
    else:
        print(format_answer(result))
    return 0


def local_pipeline(engine: Engine, chunk_index: ChunkIndex, settings: WorkerSettings, docs: Path,
                   files: list[Path]) -> AnswerPipeline:
    """The worker's pipeline over a runbook folder and local files instead of Slack."""
    sources: list[Source] = [RunbookFolder(docs), LocalFiles(files, settings.gathering)]
    return AnswerPipeline(DocumentGatherer(sources), engine, chunk_index)


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
