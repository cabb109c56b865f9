"""The runbook folder source and /runbook section lookup."""

from __future__ import annotations

import os
import time
from pathlib import Path

from worker.documents.base import GatherRequest
from worker.documents.chunking import chunk_document
from worker.documents.document import Document
from worker.documents.runbook_lookup import find_runbook_section, heading_anchor, runbook_sections
from worker.documents.runbooks import RunbookFolder
from worker.documents.skipped import is_skipped

ASK = GatherRequest("C1", "U1", mode="runbook")


def _bump(path: Path, text: str, second: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(second * 10**9, second * 10**9))


def test_runbooks_are_read_and_reread_when_they_change(runbook_dir: Path) -> None:
    folder = RunbookFolder(runbook_dir, base_url="https://github.com/acme/runbooks/blob/main/")
    documents = {d.doc_id: d for d in folder.gather(ASK)}
    assert set(documents) == {"runbook:databases/postgres-failover.md", "runbook:deploys.txt", "runbook:redis.md"}
    postgres = documents["runbook:databases/postgres-failover.md"]
    assert postgres.title == "Postgres failover" and not postgres.restricted
    assert postgres.link == "https://github.com/acme/runbooks/blob/main/databases/postgres-failover.md"
    assert folder.gather(ASK)[0] is folder.gather(ASK)[0]  # unchanged: from the cache
    _bump(runbook_dir / "deploys.txt", "Deploy freeze: none this week.\n", 1_000)
    (runbook_dir / "redis.md").unlink()
    documents = {d.doc_id: d for d in folder.gather(ASK)}
    assert documents["runbook:deploys.txt"].text == "Deploy freeze: none this week.\n"
    assert "runbook:redis.md" not in documents


def test_hidden_folders_are_skipped_and_huge_runbooks_noted(runbook_dir: Path) -> None:
    (runbook_dir / ".git").mkdir()
    (runbook_dir / ".git" / "notes.md").write_text("# not a runbook\n")
    (runbook_dir / "huge.md").write_text("x" * 5_000)
    documents = RunbookFolder(runbook_dir, max_bytes=4_000).gather(ASK)
    assert not any(".git" in d.doc_id for d in documents)
    [huge] = [d for d in documents if d.doc_id == "runbook:huge.md"]
    assert is_skipped(huge) and huge.notes == ("skipped huge.md: over the 4.0 KB runbook cap",)


def _runbooks(runbook_dir: Path) -> list[Document]:
    return [d for d in RunbookFolder(runbook_dir, base_url="https://rb/").gather(ASK) if not is_skipped(d)]


def test_sections_have_exact_lines_and_anchors(runbook_dir: Path) -> None:
    postgres = next(d for d in _runbooks(runbook_dir) if d.title == "Postgres failover")
    sections = {s.heading: s for s in runbook_sections(postgres)}
    assert "this is not a heading" not in " ".join(sections)  # inside a code fence
    lag = sections["Replica lag"]
    lines = postgres.text.split("\n")
    assert lines[lag.line_start - 1] == "## Replica lag"
    assert lines[lag.line_end].startswith("## Connection pool exhausted")  # subsection included
    assert lag.path == ("Postgres failover", "Replica lag") and lag.anchor == "replica-lag"
    redis = next(d for d in _runbooks(runbook_dir) if d.title == "redis")
    assert [s.heading for s in runbook_sections(redis)] == ["Redis cache", "High memory usage", "Evictions"]


def test_service_and_symptom_find_the_section(runbook_dir: Path) -> None:
    documents = _runbooks(runbook_dir)
    match = find_runbook_section("postgres replica lag", documents)
    assert match is not None and match.heading == "Replica lag"
    assert match.link == "https://rb/databases/postgres-failover.md#replica-lag"
    assert match.title == "Postgres failover › Replica lag"
    assert "patronictl failover" in match.text and "Connection pool" not in match.text
    assert (match.line_start, match.line_end) == (10, 25)
    memory = find_runbook_section("redis memory high", documents)
    assert memory is not None and memory.heading == "High memory usage" and "--bigkeys" in memory.text
    pool = find_runbook_section("connection pool exhausted", documents)
    assert pool is not None and pool.anchor == "connection-pool-exhausted"


def test_no_good_match_is_none(runbook_dir: Path) -> None:
    documents = _runbooks(runbook_dir)
    assert find_runbook_section("kafka consumer lag", documents) is None
    assert find_runbook_section("how do I", documents) is None
    assert find_runbook_section("redis", [Document("x", "redis", "# Redis\n", kind="file")]) is None


def test_lookup_is_fast_over_many_runbooks() -> None:
    documents = [
        Document(f"runbook:svc{n}.md", f"Service {n}",
                 f"# Service{n}\n\n## Symptoms\nlatency errors {n}\n\n## Restart\nkubectl rollout restart svc{n}\n"
                 * 3, kind="runbook", link=f"svc{n}.md")
        for n in range(300)
    ]
    find_runbook_section("warm up", documents)
    started = time.process_time()  # CPU time: other processes on a loaded machine do not count
    match = find_runbook_section("service217 restart", documents)
    assert time.process_time() - started < 0.5
    assert match is not None and match.document.doc_id == "runbook:svc217.md" and match.heading == "Restart"


def test_heading_anchor_like_github() -> None:
    assert heading_anchor("Disk full (`/var`)!") == "disk-full-var"


def test_a_markdown_heading_starts_a_chunk_so_a_chunk_lies_in_one_section() -> None:
    text = ("# Payments API\n\nIntro.\n\n## Checks\n\n```\n# not a heading: a comment in a code block\n"
            "kubectl get pods\n```\n\n## Mitigation\n\nRoll back.\n\nSetext section\n--------------\nMore.\n")
    document = Document("runbook:p.md", "Payments API", text, kind="runbook")
    chunks = chunk_document(document, 1000, lambda line: len(line.split()))  # room for all of it in one
    assert [(c.line_start, c.text.split("\n")[0]) for c in chunks] == [
        (1, "# Payments API"), (5, "## Checks"), (12, "## Mitigation"), (16, "Setext section")]
    assert "kubectl get pods" in chunks[1].text

