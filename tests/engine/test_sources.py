"""Who sends the traffic (worker/engine/sources.py): the question that asks it, each log line's sender, and the
log chunks whose lines mostly come from one sender."""

from __future__ import annotations

import pytest

from worker.documents.document import Chunk, Document
from worker.engine.sources import QUIET_SENDER, asks_who_sends, sender, source_scores


@pytest.mark.parametrize("question", [
    "who was hammering it?", "which client is flooding us?", "where is all that traffic coming from?",
    "secops says something was poking the kubelet port in the middle of the night. where did it come from?",
    "somebody was hammering search late morning, which client was it?",
    "we returned a ton of 429s around half six, who was that and on what?",
    "anyone brute forcing the login after lunch? which ip",
    "who's been hammering the jm rpc port",
])
def test_questions_that_ask_who_sent_the_traffic(question: str) -> None:
    assert asks_who_sends(question)


@pytest.mark.parametrize("question", [
    "which host does it connect to?", "who became leader?", "why did the api fail?", "which port does it listen on?",
])
def test_other_questions(question: str) -> None:
    assert not asks_who_sends(question)


@pytest.mark.parametrize(("line", "address"), [
    ('E0211 02:37:26.680163 2187 server.go:296] "Unable to authenticate the request" err="invalid bearer token" '
     'remoteAddr="10.42.19.88:51257" path="/pods"', "10.42.19.88"),
    ('{"msg":"handled request","request":{"remote_ip":"203.0.113.77","remote_port":"23979"}}', "203.0.113.77"),
    ('2025-11-03T06:52:22.984Z [INFO] 10.244.6.23:35866 - 19369 "AAAA IN warehouse-db.internal. udp 76" NXDOMAIN',
     "10.244.6.23"),  # an access or query log: the first address
    ('INFO -- : Started POST "/users/sign_in" for 185.220.101.47 at 2026-03-04 16:41:03 +0000', "185.220.101.47"),
    ('WARNING AXES: New login failure by {username: "admin", ip_address: "45.155.205.233"}', "45.155.205.233"),
    ("I0211 04:11:16.356645 2187 log.go:245] http: TLS handshake error from 10.42.11.61:40579: EOF", "10.42.11.61"),
    ('[error] 12#12: *5 connect() failed (111) while connecting to upstream, client: 10.1.2.3, server: shop, '
     'upstream: "http://10.1.1.2:8080/"', "10.1.2.3"),  # the client, not the upstream before or after it
    ('E0211 01:52:17 2187 controller.go:145] "Failed to ensure lease exists" err="Get \\"https://api/leases\\": '
     'dial tcp 10.42.0.12:443: i/o timeout"', None),  # where the line goes, not who sent it
    ("Failed to connect to redis at 10.0.0.5:6379: Connection refused", None),
    # the client's end of a connection the broker accepted: an ephemeral port, whatever the words before it
    ("2024-10-17 21:14:06,010 | WARN  | Transport Connection to: tcp://10.30.250.14:50113 failed: Frame size of 1 GB "
     "larger than max allowed 100 MB", "10.30.250.14"),
    ("dial tcp 10.42.0.12:5432: connect: connection refused", None),  # a server's port: where the line goes
    ("no address here", None),
])
def test_the_sender_of_a_line(line: str, address: str | None) -> None:
    assert sender(line) == address


def test_chunks_whose_lines_mostly_come_from_one_sender_count_with_the_lines_around_them() -> None:
    """Single-line chunks of a JSON access log: the prober's lines lie among each other, ordinary traffic
    comes from many clients, and the dependency's errors name where they went, not who sent them."""
    log = Document("file:edge.log", "edge.log", "", kind="log")
    line = '{{"ts":"10:{m:02d}","request":{{"remote_ip":"{ip}"}},"status":{status}}}'
    mixed = [Chunk(log, line.format(m=n, ip=f"82.13.86.{n}", status=200), n, n) for n in range(1, 11)]
    probe = [Chunk(log, line.format(m=30 + n, ip="203.0.113.77", status=404), 30 + n, 30 + n) for n in range(6)]
    outage = [Chunk(log, f'E1 err="dial tcp 10.42.0.12:443: i/o timeout" n={n}', 60 + n, 60 + n) for n in range(5)]
    runbook = Chunk(Document("runbook:a.md", "A", "", kind="runbook"), "from 1.2.3.4\nfrom 1.2.3.4\nfrom 1.2.3.4", 1, 3)
    chunks = [*mixed, *probe, *outage, runbook]
    scores = source_scores("something was poking the edge, where did it come from?", chunks)
    assert scores[10:16].tolist() == [1.0] * 6  # the prober's, with no other sender within reach
    assert max(scores[:10]) < 0.5 and scores[16:].tolist() == [0.0] * 6
    assert source_scores("why did the edge fail?", chunks).tolist() == [0.0] * len(chunks)


def test_one_client_s_routine_session_counts_less_than_a_probe_that_is_refused() -> None:
    """OpenVPN: a user's hourly renegotiations all come from one address, as do a scanner's packets that fail the
    tls-crypt check; "who was poking at the vpn port" means the scanner. Lines refused by status (Synapse's 429s at
    INFO) are refused too."""
    log = Document("file:vpn.log", "vpn.log", "", kind="log")
    session = [Chunk(log, f"04:{n:02d}:33 ivan/198.51.100.140:55629 TLS: soft reset sec=3600/3600", n, n)
               for n in range(1, 5)]
    scan = [Chunk(log, f"06:{n:02d}:41 TLS Error: tls-crypt unwrapping failed from [AF_INET]198.51.100.23:5{n}",
                  40 + n, 40 + n) for n in range(1, 5)]
    throttled = [Chunk(log, f'08:{n:02d}:08 INFO - 203.0.113.99 - 101B 429 "POST /register HTTP/1.1"', 80 + n, 80 + n)
                 for n in range(1, 5)]
    scores = source_scores("who was poking at the vpn port?", [*session, *scan, *throttled])
    assert scores.tolist() == [QUIET_SENDER] * 4 + [1.0] * 8
