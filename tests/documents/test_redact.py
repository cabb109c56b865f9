from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient

from tests.documents.conftest import PUBLIC
from tests.fake_slack import FakeSlack
from worker.documents.base import GatherRequest
from worker.documents.document import Document
from worker.documents.gather import DocumentGatherer
from worker.documents.pins import ChannelPins
from worker.documents.redact import REDACTED, DocumentRedactor, redact_secrets
from worker.documents.slack_files import SlackFileReader

SECRETS = [
    ("slack bot token", "posting with xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xoxb-1234567890"),
    ("slack user token", "SLACK_TOKEN=xoxp-11111111-22222222-abcdefabcdef", "xoxp-11111111"),
    ("aws key id", "aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("aws secret", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("bearer header", "curl -H 'Authorization: Bearer eyJhbGciOi.abc.def' https://api", "eyJhbGciOi"),
    ("basic header", "Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    ("password=", "connecting with user=app password=hunter22 host=db", "hunter22"),
    ("json password", '{"user": "app", "password": "hunter22"}', "hunter22"),
    ("url credentials", "DATABASE_URL=postgresql://checkout:Sup3rS3cret@db:5432/x", "Sup3rS3cret"),
    ("api key", "PAYMENTS_API_KEY=pk_9f8e7d6c5b4a39281706", "pk_9f8e7d6c5b4a39281706"),
    ("client secret yaml", "client_secret: 8c1f2e3d4c5b6a79", "8c1f2e3d4c5b6a79"),
    ("github token", "token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghij"),
    ("slack webhook", "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXX"),
]


@pytest.mark.parametrize(("what", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_is_redacted(what: str, text: str, secret: str) -> None:
    redacted = redact_secrets(text)
    assert secret not in redacted
    assert REDACTED in redacted


def test_names_around_secrets_are_kept() -> None:
    assert redact_secrets("password=hunter22 user=bob") == f"password={REDACTED} user=bob"
    assert redact_secrets("postgresql://app:pw12345@db/x") == f"postgresql://app:{REDACTED}@db/x"


def test_private_key_block_is_redacted_keeping_line_count() -> None:
    text = ("before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1\nZm9vYmFyYmF6cXV4\n"
            "-----END RSA PRIVATE KEY-----\nafter")
    redacted = redact_secrets(text)
    assert "MIIEowIBAAKCAQEAx1" not in redacted and "Zm9vYmFy" not in redacted
    assert redacted.split("\n")[0] == "before" and redacted.split("\n")[-1] == "after"
    assert redacted.count("\n") == text.count("\n")


def test_key_cut_off_by_a_size_cap_is_still_redacted() -> None:
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQUFBQUFBQUFBQUFBQUFB\n"
    redacted = redact_secrets(text)
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in redacted and "QUFBQUFB" not in redacted
    assert redacted.count("\n") == 3


@pytest.mark.parametrize("text", [
    "2024-05-14 13:55:00,000 INFO connected to db in 5ms",
    "the token refresh failed, retrying",
    "passwords must be rotated every 90 days",
    "Bearer tokens are checked by the gateway",
])
def test_harmless_text_is_unchanged(text: str) -> None:
    assert redact_secrets(text) == text


_fragments = st.sampled_from([s[1] for s in SECRETS] + [
    "plain words", "", "  indented line", "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----",
    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "password:", "token = ", "\t", "x" * 50,
])


@settings(max_examples=200, deadline=None)
@given(st.lists(_fragments, max_size=30))
def test_redaction_keeps_lines_and_is_idempotent(lines: list[str]) -> None:
    text = "\n".join(lines)
    once = redact_secrets(text)
    assert once.count("\n") == text.count("\n")
    assert redact_secrets(once) == once


def test_text_whose_length_changes_when_lower_cased_is_still_redacted() -> None:
    text = "İstanbul office\npassword=hunter22\nok"
    assert redact_secrets(text) == f"İstanbul office\npassword={REDACTED}\nok"


def test_the_same_text_is_redacted_once() -> None:
    redactor = DocumentRedactor()
    text = "password=hunter22\n" + "token." * 1000
    first = redactor.text(text)
    assert redactor.text(text) is first, "the second time comes from the cache"
    assert redactor.text(text + "x") is not first
    assert "hunter22" not in first.text


def test_short_texts_such_as_titles_are_redacted_once_too() -> None:
    """A runbook folder's titles are gathered for every question: 2,000 of them redacted per question cost
    tens of milliseconds each time."""
    redactor = DocumentRedactor()
    title = "payments-api: password=hunter22"
    first = redactor.text(title)
    assert first.text == f"payments-api: password={REDACTED}"
    assert redactor.text(title) is first, "the second time comes from the cache"


def test_a_document_past_the_time_budget_keeps_its_lines_and_says_what_was_left_out() -> None:
    text = "password=hunter22 and some ordinary words to fill the line up\n" * 20_000
    document = Document(doc_id="file:F1", title="app.log", text=text, kind="log", first_line=101)
    redacted = DocumentRedactor(budget_s=0.0).document(document)
    assert redacted.text.count("\n") == text.count("\n") and "hunter22" not in redacted.text
    [note] = redacted.notes
    first = 101 + next(i for i, line in enumerate(redacted.text.split("\n")) if not line)
    assert note == f"app.log: lines {first}-{100 + 20_000 + 1} were left out (checking them for secrets took too long)"


def test_a_pinned_message_built_to_freeze_redaction_costs_nothing_to_the_next_question(
        slack: FakeSlack, client: WebClient) -> None:
    """The attack: 4 KB of repeated ``token.`` pinned in a channel made every question there take 23 s (and
    ``password.`` ×1,000 102 s), holding the GIL. Now: well under a second, and once only."""
    bomb = slack.add_message(PUBLIC, "token." * 700 + "\n" + "password." * 1000)
    secret = slack.add_message(PUBLIC, "the db: postgresql://app:Sup3rS3cret@db:5432/app and token.token=abc123")
    slack.pin_message(PUBLIC, bomb)
    slack.pin_message(PUBLIC, secret)
    reader = SlackFileReader(client, max_file_bytes=100_000, max_scan_bytes=1_000_000, timeout_s=3)
    gatherer = DocumentGatherer([ChannelPins(client, reader)], client=client)
    for _ in range(3):
        started = time.process_time()
        gathered = gatherer.gather(GatherRequest(PUBLIC, "U1"))
        assert time.process_time() - started < 1.0
    texts = [d.text for d in gathered.documents]
    assert texts[0] == bomb["text"]
    assert texts[1] == f"the db: postgresql://app:{REDACTED}@db:5432/app and token.token={REDACTED}"
