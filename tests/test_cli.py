"""The terminal entry point runs the same pipeline and prints the answer with its sources."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.runbooks import write_runbooks
from worker.cli import main


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
