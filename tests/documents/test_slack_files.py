"""Slack file documents through a real WebClient against the fake Slack Web API."""

from __future__ import annotations

import gzip
import time

import pytest
from slack_sdk import WebClient

from tests.documents.conftest import EXAMPLE_LOG, PUBLIC
from tests.fake_slack import FakeSlack
from worker.documents.base import GatherRequest
from worker.documents.skipped import is_skipped
from worker.documents.slack_files import ChannelFiles, SlackFileReader, ThreadFiles


def _reader(client: WebClient, max_file_bytes: int = 1_000_000, reduce_logs_above: int = 1_000_000
            ) -> SlackFileReader:
    return SlackFileReader(client, max_file_bytes=max_file_bytes, max_scan_bytes=50_000_000, timeout_s=3.0,
                           reduce_logs_above=reduce_logs_above)


def test_attached_file_is_downloaded_with_the_bot_token(slack: FakeSlack, client: WebClient) -> None:
    slack.add_file("F1", "notes.md", b"# Notes\nrestart the worker\n", channel=PUBLIC, title="Ops notes")
    [document] = ThreadFiles(_reader(client)).gather(GatherRequest(PUBLIC, "U1", file_ids=("F1",)))
    assert document.text == "# Notes\nrestart the worker\n"
    assert (document.doc_id, document.title, document.kind) == ("slack-file:F1", "Ops notes", "file")
    assert document.restricted and document.visible_in == (PUBLIC,)
    assert [c.method for c in slack.calls] == ["files.info"]


def test_files_in_the_thread_are_found(slack: FakeSlack, client: WebClient) -> None:
    root = slack.add_message(PUBLIC, "checkout is down")
    file_obj = slack.add_file("F2", "checkout-api.log", EXAMPLE_LOG.read_bytes(), channel=PUBLIC)
    slack.add_message(PUBLIC, "log attached", thread_ts=root["ts"], files=[file_obj])
    [document] = ThreadFiles(_reader(client)).gather(GatherRequest(PUBLIC, "U1", thread_ts=root["ts"]))
    assert document.kind == "log" and document.title == "checkout-api.log"
    assert document.text == EXAMPLE_LOG.read_text()


def test_sign_in_page_instead_of_the_file_is_an_error_not_a_document(slack: FakeSlack) -> None:
    info = slack.add_file("F3", "app.log", b"real content", channel=PUBLIC)
    wrong_token = WebClient(token="xoxb-revoked-or-missing-scope", base_url=slack.api_url)
    [document] = _reader(wrong_token).read(info)
    assert is_skipped(document) and document.text == ""
    assert "sign-in page instead of the file" in document.notes[0]


def test_binary_file_is_skipped_with_a_note(slack: FakeSlack, client: WebClient) -> None:
    slack.add_file("F4", "build.bin", b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4,
                   channel=PUBLIC, mimetype="application/octet-stream", filetype="binary")
    [document] = ThreadFiles(_reader(client)).gather(GatherRequest(PUBLIC, "U1", file_ids=("F4",)))
    assert is_skipped(document) and document.notes == ("skipped build.bin: binary file",)


def test_image_is_skipped_without_downloading(slack: FakeSlack, client: WebClient) -> None:
    info = slack.add_file("F5", "graph.png", b"\x89PNG....", channel=PUBLIC, mimetype="image/png")
    [document] = _reader(client).read(info)
    assert document.notes == ("skipped graph.png: binary file",)


def test_gzipped_log_is_decompressed(slack: FakeSlack, client: WebClient) -> None:
    info = slack.add_file("F6", "checkout-api.log.gz", gzip.compress(EXAMPLE_LOG.read_bytes()), channel=PUBLIC,
                          mimetype="application/gzip", filetype="gzip")
    [document] = _reader(client).read(info)
    assert document.kind == "log" and document.text == EXAMPLE_LOG.read_text()


def test_file_over_the_cap_keeps_head_and_tail_with_exact_lines_and_a_note(slack: FakeSlack,
                                                                          client: WebClient) -> None:
    text = "".join(f"Step {i}: check the replica lag of pg-{i % 7} and write it down.\n" for i in range(1200))
    original = text.split("\n")
    info = slack.add_file("F7", "notes.txt", text.encode(), channel=PUBLIC)
    head, tail = _reader(client, max_file_bytes=30_000).read(info)
    assert head.first_line == 1 and head.text.split("\n") == original[: len(head.text.split("\n"))]
    assert tail.doc_id == f"slack-file:F7@L{tail.first_line}" and tail.first_line > len(head.text.split("\n"))
    assert tail.text.split("\n") == original[tail.first_line - 1:]
    [note] = head.notes
    skipped_from = len(head.text.split("\n")) + 1
    assert f"skipped lines {skipped_from}-{tail.first_line - 1}" in note and "notes.txt" in note


def test_a_log_over_the_reduce_threshold_is_read_whole_and_reduced_to_its_incidents(slack: FakeSlack,
                                                                                   client: WebClient) -> None:
    """Logs are never cut in the middle: the stack trace in the middle of the file is kept with the file's
    own line numbers, the rest is summarised, and the note says what was folded."""
    original = EXAMPLE_LOG.read_text().split("\n")
    info = slack.add_file("F8", "checkout-api.log", EXAMPLE_LOG.read_bytes(), channel=PUBLIC)
    summary, *regions = _reader(client, max_file_bytes=10_000, reduce_logs_above=10_000).read(info)
    assert summary.doc_id == "slack-file:F8#summary" and "line templates" in summary.text
    [note] = summary.notes
    assert f"has {len(original) - 1:,} lines" in note and "kept" in note
    for region in regions:
        assert region.kind == "log" and region.doc_id == f"slack-file:F8@L{region.first_line}"
        lines = region.text.split("\n")
        assert lines == original[region.first_line - 1:region.first_line - 1 + len(lines)]
    kept = {region.first_line + i for region in regions for i in range(region.text.count("\n") + 1)}
    assert set(range(204, 226)) <= kept, "the ERROR line and its whole chained traceback"
    assert len(kept) < len(original) / 2


def test_unknown_file_is_a_note_that_names_only_its_id(slack: FakeSlack, client: WebClient) -> None:
    [document] = ThreadFiles(_reader(client)).gather(GatherRequest(PUBLIC, "U1", file_ids=("F404",)))
    assert document.notes == ("skipped file F404: Slack said file_not_found",)
    assert document.visible_in == (PUBLIC,)


def test_recent_channel_logs_only_in_logs_mode(slack: FakeSlack, client: WebClient) -> None:
    now = int(time.time())
    slack.add_file("F10", "api.log", b"2024-05-01 10:00:00 ERROR boom\n", channel=PUBLIC, created=now - 60)
    slack.add_file("F11", "old.log", b"2024-04-01 10:00:00 ERROR old\n", channel=PUBLIC, created=now - 30 * 86400)
    slack.add_file("F12", "design.md", b"# design\n", channel=PUBLIC, created=now - 30)
    slack.add_file("F13", "worker.log.1.gz", gzip.compress(b"2024-05-01 10:00:00 INFO hi\n"), channel=PUBLIC,
                   created=now - 10, mimetype="application/gzip")
    slack.add_file("F14", "elsewhere.log", b"x\n", channel="C0ELSEWHERE", created=now)
    logs = ChannelFiles(_reader(client), window_s=7 * 86400, max_files=10, logs_only=True)
    assert [d.doc_id for d in logs.gather(GatherRequest(PUBLIC, "U1", mode="logs"))] == [
        "slack-file:F13", "slack-file:F10"]
    files = ChannelFiles(_reader(client), window_s=7 * 86400, max_files=2)
    assert [d.doc_id for d in files.gather(GatherRequest(PUBLIC, "U1"))] == ["slack-file:F13", "slack-file:F12"]


def _log_lines(count: int) -> list[str]:
    return [f"2024-05-14 10:{n // 60 % 60:02d}:{n % 60:02d},000 INFO request {n} served in {n % 97} ms"
            for n in range(1, count + 1)]


def test_a_gz_log_past_the_scan_limit_says_it_stopped_and_where(slack: FakeSlack, client: WebClient) -> None:
    """The file decompresses to 6 MB; reading stops after 2 MB: the log is reduced from what was read, the
    note says where it stopped, and every kept line is a whole line of the file."""
    lines = _log_lines(100_000)
    lines[20_000] = "2024-05-14 15:33:20,000 ERROR request 20001 failed: upstream timed out"
    slack.add_file("F30", "app.log.gz", gzip.compress(("\n".join(lines) + "\n").encode()), channel=PUBLIC,
                   mimetype="application/gzip")
    reader = SlackFileReader(client, max_file_bytes=500_000, max_scan_bytes=2_000_000, timeout_s=10,
                             reduce_logs_above=500_000)
    summary, *regions = ThreadFiles(reader).gather(GatherRequest(PUBLIC, "U1", file_ids=("F30",)))
    [note] = summary.notes
    assert "stopped reading after 2.0 MB; the rest of app.log.gz was not read" in note
    read = int(note.split(": read ")[1].split(" lines")[0].replace(",", ""))
    assert 0 < read < len(lines)
    for region in regions:
        kept = region.text.split("\n")
        assert kept == lines[region.first_line - 1:region.first_line - 1 + len(kept)], "whole lines of the file"
    assert any("request 20001 failed" in region.text for region in regions)


def test_a_truncated_gz_log_is_read_with_a_note_that_it_ends_early(slack: FakeSlack, client: WebClient) -> None:
    lines = _log_lines(5000)
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    slack.add_file("F31", "app.log.gz", whole[: len(whole) // 2], channel=PUBLIC, mimetype="application/gzip")
    [document] = ThreadFiles(_reader(client)).gather(GatherRequest(PUBLIC, "U1", file_ids=("F31",)))
    read = document.text.split("\n")
    assert 100 < len(read) < len(lines) and read[:-1] == lines[: len(read) - 1]
    [note] = document.notes
    assert note == f"read lines 1-{len(read)} of app.log.gz; app.log.gz ends early (its compressed data is cut " \
                   f"short): lines after {len(read)} are missing"


def test_a_complete_gz_log_has_no_note(slack: FakeSlack, client: WebClient) -> None:
    lines = _log_lines(500)
    slack.add_file("F32", "app.log.gz", gzip.compress("\n".join(lines).encode()), channel=PUBLIC)
    [document] = ThreadFiles(_reader(client)).gather(GatherRequest(PUBLIC, "U1", file_ids=("F32",)))
    assert document.text == "\n".join(lines) and not document.notes


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_logs_are_decoded_not_skipped_as_binary(slack: FakeSlack, client: WebClient,
                                                                encoding: str) -> None:
    """``utf-16``/``utf-32``: with a byte order mark (what Windows tools write); ``utf-16-le``/``-be``: none."""
    text = "\n".join([*_log_lines(300), "2024-05-14 11:00:00,000 ERROR naïve café — payment 42 failed"]) + "\n"
    slack.add_file("F33", "windows-service.log", text.encode(encoding), channel=PUBLIC)
    summary, *regions = ThreadFiles(_reader(client, reduce_logs_above=5_000)).gather(
        GatherRequest(PUBLIC, "U1", file_ids=("F33",)))
    assert not is_skipped(summary), summary.notes
    assert regions[-1].kind == "log" and regions[-1].text.endswith("ERROR naïve café — payment 42 failed")
    assert regions[-1].first_line > 200
    [whole] = ThreadFiles(_reader(client)).gather(GatherRequest(PUBLIC, "U1", file_ids=("F33",)))
    assert whole.text == text


def test_files_of_a_thread_are_capped_newest_first_with_a_note(slack: FakeSlack, client: WebClient) -> None:
    """A thread of 1,100 replies, 100 of them with a file, and a question with its own file: 20 files are
    read (the question's, then the thread's newest), the thread is paged through up to 1,000 replies, and
    the notes say what was left out."""
    root = slack.add_message(PUBLIC, "incident thread")
    asked = slack.add_file("F0", "asked.log", b"the file asked about\n", channel=PUBLIC)
    for n in range(1, 1101):
        files = [slack.add_file(f"F{n}", f"part-{n}.txt", f"part {n}\n".encode(), channel=PUBLIC)] \
            if 900 <= n < 1000 else None
        slack.add_message(PUBLIC, f"reply {n}", thread_ts=root["ts"], files=files)
    documents = ThreadFiles(_reader(client)).gather(GatherRequest(PUBLIC, "U1", thread_ts=root["ts"],
                                                                  file_ids=(asked["id"],)))
    read = [d for d in documents if not is_skipped(d)]
    assert [d.text for d in read] == ["the file asked about\n"] + [f"part {n}\n" for n in range(999, 980, -1)]
    assert len(slack.calls_to("files.info")) == 20
    assert len(slack.calls_to("conversations.replies")) == 5, "1,000 replies in pages of 200"
    notes = [note for d in documents if is_skipped(d) for note in d.notes]
    assert notes == [
        "skipped 81 more files in this thread: 20 files are read per question (those asked about first, then "
        "the thread's newest)",
        "skipped the replies after the first 1000 of this thread: not searched for files",
    ]
    assert all(d.visible_in == (PUBLIC,) and d.restricted for d in documents)
