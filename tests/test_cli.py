"""The terminal entry point runs the same pipeline and prints the answer with its sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_runbooks
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
