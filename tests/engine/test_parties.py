"""The party of a log a question names (worker/engine/parties.py)."""

from __future__ import annotations

from worker.documents.document import Chunk, Document
from worker.engine.parties import named_parties, only_in_names


def _chunks(lines: list[str]) -> list[Chunk]:
    log = Document("file:app.log", "app.log", "", kind="log")
    return [Chunk(log, line, n, n) for n, line in enumerate(lines, 1)]


def test_a_word_written_as_part_of_a_name_in_a_few_chunks_names_a_party() -> None:
    chunks = _chunks(["vpn-gw1 charon: received end entity cert \"CN=bob@example.com\"",
                      "vpn-gw1 charon: no trusted RSA public key found for 'CN=bob@example.com'",
                      "vpn-gw1 charon: IKE_SA rw[3] established with 'CN=gina@example.com'",
                      "vpn-gw1 charon: IKE_SA rw[4] established with 'CN=ann@example.com'",
                      "vpn-gw1 charon: IKE_SA rw[5] established with 'CN=dev@example.com'",
                      "vpn-gw1 charon: sending DPD request"])
    every = list(range(len(chunks)))
    assert named_parties("bob says the vpn keeps rejecting him", chunks, every) == {"bob"}
    assert named_parties("what's wrong on gw1?", chunks, every) == frozenset()  # on every line: the log's own
    assert named_parties("the dpd requests, why?", chunks, every) == frozenset()  # a plain word, not a name
    assert named_parties("anything?", chunks, []) == frozenset()


def test_a_party_for_incidents_is_a_word_the_log_writes_only_in_names() -> None:
    chunks = _chunks(["slapd: slap_client_connect: URI=ldap://ldap-01:389 ldap_sasl_bind_s failed (-1)",
                      "slapd: conn=1001 fd=12 ACCEPT from IP=10.30.9.77:51234",
                      "synapse: Failed password login for user @kevin.m:example.org",
                      "nginx: Can't connect to the upstream"])
    every = list(range(len(chunks)))
    assert only_in_names("kevin", chunks, every)
    # a user's name before "@" is a name, not a code identifier: PgBouncer's "appdb/reporting_ro@10.20.6.44"
    pooler = _chunks(["LOG C-0x55f2: appdb/reporting_ro@10.20.6.44:42637 closing because: password authentication",
                      "LOG C-0x55f3: appdb/app_user@10.20.4.17:55047 closing because: client close request"])
    assert only_in_names("reporting", pooler, [0, 1])
    assert not only_in_names("client", pooler, [0, 1])
    assert not only_in_names("connect", chunks, every)  # a code identifier's and a plain word
    assert not only_in_names("upstream", chunks, every)
