"""DocumentGatherer: which sources per mode and channel, notes, redaction, whole-request failures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from slack_sdk import WebClient

from tests.documents.conftest import EXAMPLE_LOG, OTHER_PUBLIC, PRIVATE, PUBLIC, now_ts
from tests.fake_pages import FakePages
from tests.fake_slack import FakeSlack, Fault
from worker.documents.base import GatherRequest
from worker.documents.gather import DocumentGatherer
from worker.documents.settings import GatheringSettings
from worker.errors import DocumentUnreadableError


def _fill_channel(slack: FakeSlack, pages: FakePages) -> None:
    now = int(time.time())
    slack.add_file("FLOG", "checkout-api.log", EXAMPLE_LOG.read_bytes(), channel=PUBLIC, created=now - 60)
    slack.add_file("FDOC", "design.md", b"# Design\nqueues everywhere\n", channel=PUBLIC, created=now - 30)
    slack.add_bookmark(PUBLIC, "Guide", pages.url("/page.html"))
    slack.pin_message(PUBLIC, slack.add_message(PUBLIC, "escalate to #db after 10 minutes"))
    slack.add_message(PUBLIC, f"notes: <{pages.url('/notes.txt')}>", ts=now_ts())


def _kinds(gatherer: DocumentGatherer, request: GatherRequest) -> list[tuple[str, str]]:
    return sorted((d.kind, d.title) for d in gatherer.gather(request).documents)


def test_ask_uses_every_source_by_default(slack: FakeSlack, client: WebClient, settings: GatheringSettings,
                                          pages: FakePages) -> None:
    _fill_channel(slack, pages)
    kinds = {kind for kind, _ in _kinds(DocumentGatherer.from_settings(settings, client), GatherRequest(PUBLIC, "U1"))}
    assert kinds == {"runbook", "log", "file", "bookmark", "pin", "link"}


def test_logs_mode_reads_only_recent_log_uploads_and_attached_files(
        slack: FakeSlack, client: WebClient, settings: GatheringSettings, pages: FakePages) -> None:
    _fill_channel(slack, pages)
    slack.add_file("FATT", "trace.txt", b"attached by the asker\n", channel=PUBLIC)
    gatherer = DocumentGatherer.from_settings(settings, client)
    assert _kinds(gatherer, GatherRequest(PUBLIC, "U1", mode="logs", file_ids=("FATT",))) == [
        ("file", "trace.txt"), ("log", "checkout-api.log")]


def test_runbook_mode_reads_only_runbooks(slack: FakeSlack, client: WebClient, settings: GatheringSettings,
                                          pages: FakePages) -> None:
    _fill_channel(slack, pages)
    kinds = _kinds(DocumentGatherer.from_settings(settings, client), GatherRequest(PUBLIC, "U1", mode="runbook"))
    assert {kind for kind, _ in kinds} == {"runbook"} and len(kinds) == 3
    assert not slack.calls_to("files.list") and not slack.calls_to("bookmarks.list")


def test_without_a_client_only_runbooks_exist(settings: GatheringSettings) -> None:
    gathered = DocumentGatherer.from_settings(settings, None).gather(GatherRequest("C1", "U1", file_ids=("F1",)))
    assert {d.kind for d in gathered.documents} == {"runbook"}


def test_channel_config_picks_sources_by_id_name_and_default(
        slack: FakeSlack, client: WebClient, settings: GatheringSettings, pages: FakePages, tmp_path: Path) -> None:
    _fill_channel(slack, pages)
    slack.add_bookmark(OTHER_PUBLIC, "Random guide", "https://status.example.com/")
    config = tmp_path / "channels.yml"
    config.write_text(f"default: [runbooks]\n{PUBLIC}: [pins, channel_files]\n'#random': [bookmarks]\n")
    gatherer = DocumentGatherer.from_settings(
        GatheringSettings(**{**settings.__dict__, "channel_config_path": config}), client)
    assert _kinds(gatherer, GatherRequest(PUBLIC, "U1")) == [
        ("file", "design.md"), ("log", "checkout-api.log"), ("pin", "Pinned: escalate to #db after 10 minutes")]
    assert _kinds(gatherer, GatherRequest(OTHER_PUBLIC, "U1")) == [("bookmark", "Random guide")]
    assert {k for k, _ in _kinds(gatherer, GatherRequest(PRIVATE, "U1"))} == {"runbook"}


def test_secrets_are_redacted_from_every_document(slack: FakeSlack, client: WebClient,
                                                  settings: GatheringSettings) -> None:
    slack.add_file("FLOG", "checkout-api.log", EXAMPLE_LOG.read_bytes(), channel=PUBLIC)
    [log] = DocumentGatherer.from_settings(settings, client).gather(
        GatherRequest(PUBLIC, "U1", mode="logs", file_ids=("FLOG",))).documents
    assert "Sup3rS3cretPw" not in log.text and "pk_9f8e7d6c5b4a39281706" not in log.text
    assert "postgresql://checkout:[REDACTED]@db-primary.internal" in log.text
    assert log.text.count("\n") == EXAMPLE_LOG.read_text().count("\n")


def test_one_bad_document_is_a_note_and_the_rest_is_gathered(
        slack: FakeSlack, client: WebClient, settings: GatheringSettings) -> None:
    slack.add_file("FBIN", "build.bin", b"\x00\x01" * 500, channel=PUBLIC, mimetype="application/octet-stream")
    slack.add_file("FLOG", "app.log", b"2024-05-01 10:00:00 ERROR boom\n", channel=PUBLIC)
    gathered = DocumentGatherer.from_settings(settings, client).gather(
        GatherRequest(PUBLIC, "U1", mode="logs", file_ids=("FBIN", "FLOG")))
    assert [d.title for d in gathered.documents] == ["app.log"]
    assert gathered.notes == ["skipped build.bin: binary file"]


def test_a_failing_source_is_a_note(slack: FakeSlack, client: WebClient, settings: GatheringSettings) -> None:
    slack.fail_next("bookmarks.list", Fault(error="missing_scope"))
    gathered = DocumentGatherer.from_settings(settings, client).gather(GatherRequest(PUBLIC, "U1"))
    assert {d.kind for d in gathered.documents} == {"runbook"}
    assert gathered.notes == ["could not read bookmarks: Slack said missing_scope"]


def test_nothing_readable_fails_the_request(slack: FakeSlack, client: WebClient,
                                            settings: GatheringSettings) -> None:
    slack.add_file("FBIN", "build.bin", b"\x00\x01" * 500, channel=PUBLIC, mimetype="application/octet-stream")
    gatherer = DocumentGatherer.from_settings(settings, client)
    with pytest.raises(DocumentUnreadableError, match=r"skipped build\.bin: binary file"):
        gatherer.gather(GatherRequest(PUBLIC, "U1", mode="logs", file_ids=("FBIN",)))


def test_nothing_at_all_is_an_empty_result(client: WebClient, settings: GatheringSettings) -> None:
    gathered = DocumentGatherer.from_settings(settings, client).gather(GatherRequest(PUBLIC, "U1", mode="logs"))
    assert gathered.documents == [] and gathered.notes == []


def test_same_file_from_two_sources_is_gathered_once(slack: FakeSlack, client: WebClient,
                                                     settings: GatheringSettings) -> None:
    slack.add_file("FLOG", "app.log", b"2024-05-01 10:00:00 ERROR boom\n", channel=PUBLIC)
    gathered = DocumentGatherer.from_settings(settings, client).gather(
        GatherRequest(PUBLIC, "U1", mode="logs", file_ids=("FLOG",)))
    assert [d.doc_id for d in gathered.documents] == ["slack-file:FLOG"]


def test_unknown_mode_is_refused(settings: GatheringSettings) -> None:
    with pytest.raises(ValueError, match="unknown gathering mode"):
        DocumentGatherer.from_settings(settings, None).gather(GatherRequest("C1", "U1", mode="search"))
