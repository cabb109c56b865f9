"""The terminal entry point runs the same pipeline and prints the answer with its sources."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from redis import Redis

from tests.runbooks import write_runbooks
from worker.cli import main

EXAMPLE_LOG = Path(__file__).parent.parent / "examples" / "logs" / "checkout-api.log"


def test_cli_answers_from_a_runbook_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = write_runbooks(tmp_path / "rb")
    assert main(["ask", "how do I renew the TLS certificate?", "--docs", str(docs)]) == 0
    out = capsys.readouterr().out
    assert "Sources:" in out
    first_source = out.split("Sources:")[1].splitlines()[1]
    assert "TLS certificate expiry" in first_source and "tls-expiry.md" in first_source
    assert "cmctl renew" in out


def test_cli_reports_no_documents_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["ask", "anything?", "--docs", str(tmp_path / "empty")]) == 1
    assert "no documents" in capsys.readouterr().err


def test_cli_json_names_the_engine_and_every_citation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = write_runbooks(tmp_path / "rb")
    assert main(["ask", "how do I renew the TLS certificate?", "--docs", str(docs), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["question"] == "how do I renew the TLS certificate?"
    assert "cmctl renew payments-tls" in record["answer"] and record["engine"].startswith("default")
    first = record["citations"][0]
    assert first["path"] == "tls-expiry.md" and first["link"] is None and first["doc_id"] == "runbook:tls-expiry.md"
    assert 1 <= first["line_start"] <= first["line_end"] <= 4 and isinstance(first["score"], float)
    assert all({"title", "path", "link", "line_start", "line_end", "score"} <= set(c) for c in record["citations"])


def test_cli_answers_a_question_file_as_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = write_runbooks(tmp_path / "rb")
    log = tmp_path / "checkout-api.log"
    log.write_bytes(EXAMPLE_LOG.read_bytes())
    questions = tmp_path / "questions.txt"
    questions.write_text("# on-call checks\nhow do I promote the postgres replica?\n\nwhere is the stack trace?\n")
    assert main(["ask", "--questions", str(questions), "--docs", str(docs), "--file", str(log)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["question"] for r in records] == ["how do I promote the postgres replica?", "where is the stack trace?"]
    assert records[0]["citations"][0]["path"] == "db-failover.md" and "patronictl switchover" in records[0]["answer"]
    trace = records[1]["citations"][0]
    assert trace["path"] == str(log) and (trace["line_start"], trace["line_end"]) == (164, 227)  # with the warnings
    assert "sqlalchemy.exc.TimeoutError: QueuePool limit" in records[1]["answer"]


def test_cli_question_file_problems_are_reported_per_line_or_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    questions = tmp_path / "q.txt"
    questions.write_text("anything?\n")
    assert main(["ask", "--questions", str(questions), "--docs", str(tmp_path / "empty")]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["question"] == "anything?" and "no documents" in record["error"]
    assert main(["ask", "--questions", str(tmp_path / "missing.txt")]) == 1
    assert "cannot read the questions file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ask"])


def test_cli_logs_mode_reads_a_gzipped_log_like_a_slack_upload(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """``--file`` files are the question's own files: ``--mode logs`` reads them, through the same reader as
    Slack uploads (gunzip, log detection, line numbers of the original file)."""
    log = tmp_path / "api.log.gz"
    lines = [f"2024-05-01 10:00:{i % 60:02d} INFO request {i} ok" for i in range(300)]
    lines[150] = "2024-05-01 10:02:30 ERROR PoolTimeoutError: connection pool exhausted after 30s"
    log.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    assert main(["ask", "why did requests fail?", "--mode", "logs", "--file", str(log),
                 "--docs", str(tmp_path / "no-runbooks")]) == 0
    out = capsys.readouterr().out
    sources = out.split("Sources:")[1]
    assert f"api.log.gz ({log}:151)" in sources.splitlines()[1], sources


def test_cli_names_an_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "core.log"
    binary.write_bytes(b"\x7fELF\x00\x00" * 100)
    assert main(["ask", "what failed?", "--mode", "logs", "--file", str(binary)]) == 1
    assert "skipped core.log: binary file" in capsys.readouterr().err


def test_cli_index_indexes_a_folder_once_and_says_what_it_did(tmp_path: Path, redis: Redis,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    docs = write_runbooks(tmp_path / "rb")
    url = redis.connection_pool.connection_kwargs
    redis_url = f"redis://{url['host']}:{url['port']}/{url['db']}"
    assert main(["index", str(docs), "--redis", redis_url]) == 0
    first = capsys.readouterr()
    assert "3 documents: 3 indexed now" in first.out and "index in redis" in first.out
    assert "indexing" in first.err, "a progress bar on stderr"
    (docs / "tls-expiry.md").write_text("# TLS certificate expiry\n\nRenew with `certbot renew`.\n")
    assert main(["index", str(docs), "--redis", redis_url]) == 0
    assert "3 documents: 1 indexed now" in capsys.readouterr().out, "only the changed runbook"
    assert main(["index", str(tmp_path / "missing")]) == 1
    assert "is not a folder" in capsys.readouterr().err
