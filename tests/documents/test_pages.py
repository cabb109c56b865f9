"""Linked pages over a real loopback HTTP server: allowlist, redirects, timeouts, size caps, binary."""

from __future__ import annotations

import threading
import time

from tests.fake_pages import FakePages
from worker.deadline import STOP_GRACE_S, Deadline, StopRequest
from worker.documents.html_text import html_to_text
from worker.documents.http_fetch import HostAllowlist
from worker.documents.pages import PageFetcher
from worker.documents.skipped import is_skipped


def _fetcher(pages: FakePages, **kw: float) -> PageFetcher:
    return PageFetcher((pages.host,), timeout_s=kw.get("timeout_s", 0.5), max_bytes=int(kw.get("max_bytes", 50_000)))


def test_html_page_becomes_text_without_scripts(pages: FakePages) -> None:
    document = _fetcher(pages).fetch(pages.url("/page.html"), visible_in=("C1",))
    assert document.title == "Payments dashboard guide"
    assert "# Payments dashboard" in document.text and "p99 latency" in document.text
    assert "- PaymentsHighErrorRate pages the on-call." in document.text
    assert "do not show" not in document.text and "color: red" not in document.text
    assert document.kind == "link" and document.link == pages.url("/page.html")
    assert document.restricted and document.visible_in == ("C1",)


def test_slow_page_times_out_with_a_note(pages: FakePages) -> None:
    started = time.monotonic()
    document = _fetcher(pages).fetch(pages.url("/slow"))
    assert time.monotonic() - started < 2.0
    assert is_skipped(document) and "timed out after 0.5 s" in document.notes[0]


def test_trickling_page_hits_the_overall_deadline(pages: FakePages) -> None:
    started = time.monotonic()
    document = _fetcher(pages).fetch(pages.url("/trickle"))
    assert time.monotonic() - started < 2.0
    assert is_skipped(document) and "timed out" in document.notes[0]


def test_huge_page_is_cut_at_the_cap_with_a_note(pages: FakePages) -> None:
    document = _fetcher(pages, max_bytes=20_000).fetch(pages.url("/huge"))
    assert not is_skipped(document)
    assert 0 < len(document.text.encode()) <= 20_000
    assert document.notes == (f"read only the first 20.0 KB of {pages.url('/huge')}",)


def test_binary_pages_are_skipped(pages: FakePages) -> None:
    fetcher = _fetcher(pages)
    png = fetcher.fetch(pages.url("/binary"))
    assert is_skipped(png) and "not a text page (image/png)" in png.notes[0]
    disguised = fetcher.fetch(pages.url("/nul.txt"))
    assert is_skipped(disguised) and "binary" in disguised.notes[0]


def test_redirect_off_the_allowlist_is_not_followed(pages: FakePages) -> None:
    document = _fetcher(pages).fetch(pages.url("/redirect-off"))
    assert is_skipped(document) and "redirected to localhost, which is not an allowed host" in document.notes[0]
    assert "/page.html?via=redirect" not in pages.paths_requested()


def test_redirect_on_the_allowlist_is_followed(pages: FakePages) -> None:
    document = _fetcher(pages).fetch(pages.url("/redirect-on"))
    assert "Payments dashboard" in document.text
    assert pages.paths_requested() == ["/redirect-on", "/page.html"]


def test_redirect_loop_gives_up(pages: FakePages) -> None:
    document = _fetcher(pages).fetch(pages.url("/redirect-loop"))
    assert is_skipped(document) and "more than 3 redirects" in document.notes[0]


def test_host_off_the_allowlist_is_never_requested(pages: FakePages) -> None:
    fetcher = _fetcher(pages)
    assert not fetcher.may_fetch(pages.other_host_url("/page.html"))
    document = fetcher.fetch(pages.other_host_url("/page.html"))
    assert is_skipped(document) and pages.paths_requested() == []


def test_allowlist_entries() -> None:
    allowed = HostAllowlist(("wiki.acme.io", "*.docs.acme.io", "10.0.0.5:8080"))
    assert allowed("https://wiki.acme.io/x") and allowed("http://wiki.acme.io:81/x")
    assert allowed("https://a.b.docs.acme.io/") and not allowed("https://docs.acme.io.evil.com/")
    assert allowed("http://10.0.0.5:8080/") and not allowed("http://10.0.0.5:9090/")
    assert not allowed("ftp://wiki.acme.io/") and not allowed("https://evilwiki.acme.io/")
    assert not allowed("https://wiki.acme.io@evil.com/")


def test_html_to_text_keeps_preformatted_text_and_entities() -> None:
    text, title = html_to_text("<title>T</title><p>a &amp; b</p><pre>  x = 1\n  y = 2</pre>")
    assert title == "T" and "a & b" in text and "  x = 1\n  y = 2" in text


def test_a_page_sending_one_header_a_second_is_cut_off_at_its_timeout(pages: FakePages) -> None:
    """Each read gets a byte within the socket timeout, so only one deadline for connect, headers and body
    stops it: the page would otherwise hold the fetch for two minutes."""
    started = time.monotonic()
    document = _fetcher(pages, timeout_s=2.0).fetch(pages.url("/slow-headers"))
    assert time.monotonic() - started < 3.5
    assert is_skipped(document) and document.notes == (f"skipped {pages.url('/slow-headers')}: timed out after 2 s",)


def test_a_fetch_ends_at_the_question_deadline_when_that_is_nearer(pages: FakePages) -> None:
    started = time.monotonic()
    document = _fetcher(pages, timeout_s=60.0).fetch(pages.url("/slow-headers"),
                                                     deadline=Deadline.after(1.0, stop=None))
    assert time.monotonic() - started < 2.5
    assert is_skipped(document) and "out of time for this question" in document.notes[0]


def test_a_stop_request_cuts_a_fetch_off_after_the_grace(pages: FakePages) -> None:
    stop = StopRequest()
    threading.Timer(0.2, stop.request).start()
    started = time.monotonic()
    document = _fetcher(pages, timeout_s=60.0).fetch(pages.url("/slow-headers"), deadline=Deadline.after(60, stop))
    assert time.monotonic() - started < STOP_GRACE_S + 1.5
    assert "out of time for this question (the worker is stopping)" in document.notes[0]
