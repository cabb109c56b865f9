"""``chatops``: ask the same pipeline the worker runs, from a terminal, without Slack or Redis.

    chatops ask "How do I fail over the primary database?"            # examples/ by default
    chatops ask "What caused the 502s?" --docs runbooks/ --file app.log
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from jobs.errors import ChatOpsError
from jobs.payload import QuestionJob
from worker.documents.base import GatherRequest, Source
from worker.documents.gather import DocumentGatherer
from worker.documents.runbooks import RunbookFolder
from worker.engine.base import Answer, Document
from worker.engine.factory import load_engine
from worker.pipeline import AnswerPipeline
from worker.settings import WorkerSettings

DEFAULT_DOCS = Path(__file__).resolve().parent.parent / "examples" / "runbooks"


class LocalFiles:
    """Files named on the command line (``--file``), read as logs or text."""

    name = "local-files"

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
    ask = sub.add_parser("ask", help="answer one question from local documents")
    ask.add_argument("question")
    ask.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="runbook folder (default: examples)")
    ask.add_argument("--file", type=Path, action="append", default=[], help="a log or text file (repeatable)")
    ask.add_argument("--mode", choices=["ask", "runbook", "logs"], default="ask")
    ask.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    settings = WorkerSettings.from_env(os.environ)
    engine = load_engine(settings)
    sources: list[Source] = [RunbookFolder(args.docs), LocalFiles(args.file)]
    pipeline = AnswerPipeline(DocumentGatherer(sources), engine)
    job = QuestionJob(question=args.question, channel="cli", user="cli", mode=args.mode, source="cli")
    try:
        answer = pipeline.answer(job)
    except ChatOpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(format_answer(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
