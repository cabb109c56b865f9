"""HTTP mode as deployed: ``python -m bot`` (uvicorn and Bolt's ASGI adapter, bot/http_server.py) on
loopback, with signed requests from a real HTTP client and hostile ones over raw sockets."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from tests.conftest import REDIS_URL
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack
from tests.helpers import CHANNEL, QUEUE, mention_event, queued, wait_for
from tests.reliability.conftest import free_port
from tests.reliability.support import python
from tests.slack_requests import SIGNING_SECRET, event_body, sign

MAX_BODY = 256 * 1024


@pytest.fixture
def http_bot(slack: FakeSlack, redis: Redis, tmp_path: Path) -> Iterator[int]:
    """``python -m bot`` in HTTP mode; yields its port."""
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    port = free_port()
    log = (tmp_path / "bot.log").open("wb")
    bot = python("-m", "bot", env={
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_APP_TOKEN": "",
        "SLACK_API_URL": slack.api_url, "REDIS_URL": REDIS_URL, "CHATOPS_QUEUE": QUEUE, "PORT": str(port),
        "CHATOPS_HTTP_HOST": "127.0.0.1", "CHATOPS_MAX_BODY_BYTES": str(MAX_BODY),
        "CHATOPS_REQUEST_TIMEOUT_S": "2"}, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _listening(port) or bot.poll() is not None, timeout=60, what="the bot to listen")
        assert bot.poll() is None, (tmp_path / "bot.log").read_text()[-2000:]
        yield port
    finally:
        bot.terminate()
        try:
            bot.wait(timeout=15)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait()
        log.close()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: killed by it, as it should be
    assert bot.returncode in (0, -signal.SIGTERM), (tmp_path / "bot.log").read_text()[-2000:]
    assert "Application shutdown complete" in (tmp_path / "bot.log").read_text()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _bot_pid(port: int) -> int:
    """The pid of the process listening on ``port`` (from /proc/net/tcp and the processes' sockets)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # LISTEN
            inode = fields[9]
    assert inode is not None
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if any(link.readlink().name == f"socket:[{inode}]" for link in (proc / "fd").iterdir()):
                    return int(proc.name)
            except OSError:
                continue
    raise AssertionError("no process listens on the port")


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _post_signed_event(port: int, slack: FakeSlack, event_id: str) -> tuple[int, float]:
    event = mention_event(slack, f"<@{BOT_USER_ID}> how do I fail over the primary database?")
    body = event_body(event, event_id)
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/slack/events", body=body, headers={"Content-Type": "application/json",
                                                                    **sign(body)})
    status = connection.getresponse().status
    connection.close()
    return status, time.monotonic() - started


def test_half_sent_requests_do_not_delay_a_signed_event(http_bot: int, slack: FakeSlack, redis: Redis) -> None:
    """Slow clients hold their own connections only: with one stuck in its headers and one in its body, a
    signed event is still acked in well under Slack's 3 s (Bolt's development server served one request at
    a time, so the event waited for the stuck ones)."""
    stuck = [socket.create_connection(("127.0.0.1", http_bot)) for _ in range(2)]
    try:
        stuck[0].sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: applic")
        stuck[1].sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 5000\r\n\r\n{\"token\":")
        time.sleep(0.3)
        status, took = _post_signed_event(http_bot, slack, "Ev1")
    finally:
        for sock in stuck:
            sock.close()
    assert status == 200 and took < 1.5, took
    wait_for(lambda: queued(redis) == 1, what="the event's question to be queued")


def test_an_oversized_body_is_refused_before_it_is_read(http_bot: int, slack: FakeSlack, redis: Redis) -> None:
    """A 1.5 GB unsigned body: refused with 413 on its Content-Length; the bot does not read it (its memory
    does not grow by the 64 MB the client manages to send) and goes on serving signed events."""
    pid = _bot_pid(http_bot)
    before = _rss_bytes(pid)
    sock = socket.create_connection(("127.0.0.1", http_bot), timeout=10)
    sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1500000000\r\n\r\n")
    block = b"x" * (1 << 20)
    sent = 0
    try:
        sock.settimeout(2)
        for _ in range(64):
            sock.sendall(block)
            sent += len(block)
    except OSError:
        pass  # the bot stopped reading or closed the connection: expected
    sock.settimeout(10)
    response = b""
    try:
        while b"\r\n\r\n" not in response:
            piece = sock.recv(4096)
            if not piece:
                break
            response += piece
    except OSError:
        pass
    sock.close()
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert _rss_bytes(pid) - before < 32 << 20, f"the bot grew by {(_rss_bytes(pid) - before) >> 20} MB"
    status, took = _post_signed_event(http_bot, slack, "Ev2")
    assert status == 200 and took < 1.5


def test_a_chunked_body_past_the_limit_and_a_body_too_slow_are_refused(http_bot: int) -> None:
    sock = socket.create_connection(("127.0.0.1", http_bot), timeout=10)
    sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    try:
        for _ in range(MAX_BODY // len(chunk) + 2):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass
    assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    sock.close()

    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", http_bot), timeout=10)
    sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n\r\n{\"partial\":")
    assert sock.recv(4096).startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 4  # CHATOPS_REQUEST_TIMEOUT_S=2
    sock.close()


def test_an_unsigned_request_is_refused(http_bot: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", http_bot, timeout=10)
    connection.request("POST", "/slack/events", body='{"type": "event_callback"}',
                       headers={"Content-Type": "application/json", **sign("other body")})
    assert connection.getresponse().status == 401
    connection.close()
