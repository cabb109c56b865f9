"""Bookmarks, pins and links of a channel, through the fake Slack Web API and the loopback page server."""

from __future__ import annotations

import time

from slack_sdk import WebClient

from tests.documents.conftest import PUBLIC, now_ts
from tests.fake_pages import FakePages
from tests.fake_slack import FakeSlack
from worker.documents.base import GatherRequest
from worker.documents.bookmarks import ChannelBookmarks
from worker.documents.links import ChannelLinks, links_in
from worker.documents.pages import PageFetcher
from worker.documents.pins import ChannelPins
from worker.documents.skipped import is_skipped
from worker.documents.slack_files import SlackFileReader

ASK = GatherRequest(PUBLIC, "U1")


def _fetcher(pages: FakePages) -> PageFetcher:
    return PageFetcher((pages.host,), timeout_s=0.5, max_bytes=50_000)


def test_bookmarks_fetch_allowlisted_pages_and_keep_the_others_as_title_and_link(
        slack: FakeSlack, client: WebClient, pages: FakePages) -> None:
    slack.add_bookmark(PUBLIC, "Dashboard guide", pages.url("/page.html"))
    slack.add_bookmark(PUBLIC, "Status page", "https://status.example.com/")
    slack.add_bookmark(PUBLIC, "Slow wiki", pages.url("/slow"))
    guide, status, slow = ChannelBookmarks(client, _fetcher(pages)).gather(ASK)
    assert guide.title == "Dashboard guide" and "p99 latency" in guide.text and guide.kind == "bookmark"
    assert status.text == "Bookmark in this channel: Status page\nhttps://status.example.com/" and not status.notes
    assert "Slow wiki" in slow.text and "timed out" in slow.notes[0]
    assert all(d.visible_in == (PUBLIC,) and d.restricted for d in (guide, status, slow))
    assert slack.calls_to("bookmarks.list")[0].args["channel_id"] == PUBLIC


def test_pinned_messages_and_files(slack: FakeSlack, client: WebClient) -> None:
    message = slack.add_message(PUBLIC, "On-call handbook: <https://wiki.example.com/oncall|the handbook>. "
                                        "Escalate to &lt;@db-team&gt;")
    slack.pin_message(PUBLIC, message)
    slack.add_file("F20", "escalation.txt", b"call 555-0100 after 10 minutes\n", channel=PUBLIC)
    slack.pin_file(PUBLIC, "F20")
    reader = SlackFileReader(client, max_file_bytes=100_000, max_scan_bytes=1_000_000, timeout_s=3)
    pin, pinned_file = ChannelPins(client, reader).gather(ASK)
    assert pin.kind == "pin" and pin.doc_id == f"pin:{PUBLIC}:{message['ts']}"
    assert pin.text == ("On-call handbook: the handbook (https://wiki.example.com/oncall). "
                        "Escalate to <@db-team>")
    assert pin.link and pin.link.startswith("https://example.slack.com/archives/")
    assert pinned_file.text == "call 555-0100 after 10 minutes\n" and PUBLIC in pinned_file.visible_in


def test_links_in_recent_messages_are_fetched_when_allowed(slack: FakeSlack, client: WebClient,
                                                           pages: FakePages) -> None:
    slack.add_message(PUBLIC, f"see <{pages.url('/page.html')}|the guide> and "
                              f"<{pages.other_host_url('/notes.txt')}>", ts=now_ts())
    slack.add_message(PUBLIC, f"also {pages.url('/notes.txt')} and <{pages.url('/binary')}>", ts=now_ts())
    slack.add_message(PUBLIC, f"last month: <{pages.url('/redirect-on')}>", ts=f"{time.time() - 30 * 86400:.6f}")
    documents = ChannelLinks(client, _fetcher(pages), recent_messages=50, max_links=5, window_s=86400).gather(ASK)
    by_url = {d.link or d.title: d for d in documents}
    assert "p99 latency" in by_url[pages.url("/page.html")].text
    assert by_url[pages.url("/notes.txt")].text.startswith("Deploys freeze")
    assert is_skipped(by_url[pages.url("/binary")])
    assert sorted(pages.paths_requested()) == ["/binary", "/notes.txt", "/page.html"]  # never localhost


def test_links_are_capped(slack: FakeSlack, client: WebClient, pages: FakePages) -> None:
    for n in range(6):
        slack.add_message(PUBLIC, f"<{pages.url(f'/page.html?n={n}')}>", ts=now_ts())
    documents = ChannelLinks(client, _fetcher(pages), recent_messages=50, max_links=2, window_s=86400).gather(ASK)
    assert len(documents) == 2 and len(pages.paths_requested()) == 2


def test_links_in_message_text() -> None:
    text = "<https://a.io/x?y=1&amp;z=2|label> then https://b.io/page. and <mailto:x@y.z> <https://a.io/x?y=1&amp;z=2>"
    assert links_in(text) == ["https://a.io/x?y=1&z=2", "https://b.io/page"]
