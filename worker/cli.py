"""``chatops``: ask the same pipeline the worker runs, from a terminal, without Slack or Redis.

    chatops ask "How do I fail over the primary database?"            # examples/ by default
    chatops ask "What caused the 502s?" --docs runbooks/ --file app.log
    chatops ask "Why did checkout fail?" --file app.log --mode logs --json
    chatops ask --questions questions.txt --docs runbooks/ > answers.jsonl

``--json`` prints the answer as one JSON object: the question, the answer text, the engine, notes, the
seconds it took, and every citation (title, document id, ``path`` for a local file or ``link`` for a URL,
``line_start``, ``line_end``, ``score``). ``--questions FILE`` answers every line of FILE (blank lines
and lines starting with ``#`` skipped) in one process, one JSON object per line (JSON Lines); a question
that fails gets ``"error"`` instead of an answer, and the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from jobs.errors import ChatOpsError
from jobs.payload import QuestionJob
from worker.documents.base import GatherRequest, Source
from worker.documents.gather import DocumentGatherer
from worker.documents.runbooks import RunbookFolder
from worker.engine.base import Answer, Citation, Document, Engine
from worker.engine.factory import load_engine
from worker.pipeline import AnswerPipeline
from worker.settings import WorkerSettings

DEFAULT_DOCS = Path(__file__).resolve().parent.parent / "examples" / "runbooks"


class LocalFiles:
    """Files named on the command line (``--file``), read as logs or text."""

    name = "thread_files"  # files given with the question, as files attached in Slack: read in every mode

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def gather(self, request: GatherRequest) -> list[Document]:
        documents = []
        for path in self.paths:
            raw = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                raw = gzip.decompress(raw)
            kind = "log" if ".log" in path.name else "file"
            documents.append(Document(doc_id=f"file:{path}", title=path.name, kind=kind, link=str(path),
                                      text=raw.decode("utf-8", errors="replace")))
        return documents


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
            lines.append(f"  {i}. {chunk.document.title} ({where}:{chunk.line_start}-{chunk.line_end})"
                         f"  score {citation.score:.2f}")
    lines.extend(f"Note: {note}" for note in answer.notes)
    lines.append(f"[{answer.engine}]")
    return "\n".join(lines)


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
    ask_parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if (args.question is None) == (args.questions is None):
        parser.error("give either a question or --questions FILE")

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        questions = read_questions(args.questions) if args.questions else [args.question]
    except ChatOpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    settings = WorkerSettings.from_env(os.environ)
    pipeline = local_pipeline(load_engine(settings), args.docs, args.file)
    if args.questions:
        failed = 0
        for question in questions:
            record = ask(pipeline, question, args.mode)
            failed += "error" in record
            print(json.dumps(record, ensure_ascii=False), flush=True)
        return 1 if failed else 0
    result, seconds = answer_one(pipeline, questions[0], args.mode)
    if isinstance(result, ChatOpsError):
        print(f"error: {result}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer_record(questions[0], result, seconds), ensure_ascii=False, indent=2))
    else:
        print(format_answer(result))
    return 0


def local_pipeline(engine: Engine, docs: Path, files: list[Path]) -> AnswerPipeline:
    """The worker's pipeline over a runbook folder and local files instead of Slack."""
    sources: list[Source] = [RunbookFolder(docs), LocalFiles(files)]
    return AnswerPipeline(DocumentGatherer(sources), engine)


if __name__ == "__main__":
    sys.exit(main())
