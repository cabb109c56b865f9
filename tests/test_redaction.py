"""Secret redaction (jobs/redact.py): every format of the corpus, no false positives on runbooks and logs,
the same number of lines, and linear time on adversarial text."""

from __future__ import annotations

import random
import string
import time
from pathlib import Path
from typing import Any

import pytest
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.settings import default_settings
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jobs.redact import REDACTED, redact, redact_secrets
from tests.secret_corpus import ORDINARY, SAMPLES

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MB = 1 << 20


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.format for s in SAMPLES])
def test_every_format_of_the_corpus_is_redacted(sample):
    redacted = redact_secrets(sample.text)
    for secret in sample.secrets:
        assert secret not in redacted, redacted
    assert REDACTED in redacted
    assert redacted.count("\n") == sample.text.count("\n")
    assert redact_secrets(redacted) == redacted


def test_recall_on_the_corpus_is_complete(capsys):
    assert len({s.format for s in SAMPLES}) >= 40
    caught = [s.format for s in SAMPLES if not any(secret in redact_secrets(s.text) for secret in s.secrets)]
    with capsys.disabled():
        print(f"\nredaction recall: {len(caught)}/{len(SAMPLES)} secret formats")
    assert len(caught) == len(SAMPLES)


def test_whatever_detect_secrets_finds_in_the_corpus_is_redacted() -> None:
    """detect-secrets' plugins (regex, keyword and entropy) as a second opinion: every secret they find in
    the corpus is gone after redaction (values of 4+ characters: shorter ones are substrings of anything)."""
    classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    plugins = [plugin() for plugin in classes]
    found = 0
    with default_settings():
        for sample in SAMPLES:
            redacted = redact_secrets(sample.text)
            for number, line in enumerate(sample.text.split("\n"), start=1):
                for plugin in plugins:
                    for secret in plugin.analyze_line(filename="notes.yaml", line=line, line_number=number):
                        value = secret.secret_value or ""
                        if len(value) >= 4:
                            found += 1
                            assert value not in redacted, (secret.type, sample.format)
    assert found >= 30


@pytest.mark.parametrize("line", ORDINARY)
def test_ordinary_runbook_and_log_text_is_unchanged(line):
    assert redact_secrets(line) == line


def test_the_examples_change_only_where_they_hold_a_secret():
    changed = {}
    for path in sorted(EXAMPLES.rglob("*")):
        if path.is_file():
            text = path.read_text()
            redacted = redact_secrets(text)
            assert redacted.count("\n") == text.count("\n")
            changed.update({(path.name, a): b for a, b in zip(text.split("\n"), redacted.split("\n"), strict=True)
                            if a != b})
    assert len(changed) == 2, list(changed.values())
    assert {redacted.split("config: ")[1].split(" ")[0] for redacted in changed.values()} == {
        "DATABASE_URL=postgresql://checkout:[REDACTED]@db-primary.internal:5432/checkout",
        "PAYMENTS_API_KEY=[REDACTED]",
    }


def _megabyte(fragment: str) -> str:
    return (fragment * (MB // len(fragment) + 1))[:MB]


_random = random.Random(7)
ADVERSARIAL = {
    # what froze the old patterns (a keyword between greedy runs, backtracking)
    "token.": _megabyte("token."), "password.": _megabyte("password."), "api_key-": _megabyte("api_key-"),
    "secret_": _megabyte("secret_"), "one long word": "a" * MB, "separators": _megabyte("=:"),
    "unclosed quotes": _megabyte('"password": "'), "url prefixes": _megabyte("a://b:"),
    "url with @ far away": _megabyte("h://u:p") + "@host", "names that are not secret": _megabyte("keyboard="),
    "key headers": _megabyte("-----BEGIN PRIVATE KEY-----\n"), "putty": _megabyte("Private-Lines: 9999\n"),
    "commands": _megabyte("mysql curl -u sshpass redis-cli docker "), "cookies": _megabyte("Cookie: a=b;"),
    # text that is nothing but candidates, each one a secret
    "dense assignments": _megabyte("pwd=ab1 "), "dense urls": _megabyte("h://u:p@h "),
    "dense tokens": _megabyte("xoxb-1234567890ab "), "dense headers": _megabyte("Authorization: Bearer a1\n"),
    "dense flags": _megabyte("--token a1 "), "dense query strings": _megabyte("?sig=abcdef1&"),
    "random printable": "".join(_random.choice(string.printable) for _ in range(MB)),
}


ADVERSARIAL_FACTOR = 8  # an adversarial megabyte's CPU time, at most, in megabytes of ordinary log text's


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_a_megabyte_of_adversarial_text_is_redacted_about_as_fast_as_ordinary_text(text):
    """Within ``ADVERSARIAL_FACTOR`` times the CPU time of a megabyte of ordinary log text on the same machine
    (the checkout example log: about 0.3 s on the 2-core development machine): the patterns never backtrack, and
    text that is nothing but candidates costs one bounded step a candidate. Measured against the machine's own
    speed, not a fixed second, which a slower machine misses on ordinary text's pace too."""
    ordinary = _megabyte((EXAMPLES / "logs" / "checkout-api.log").read_text())

    def cpu_seconds(sample: str) -> tuple[float, str]:
        started = time.process_time()  # CPU time: other processes on the machine do not count
        redacted = redact(sample).text
        return time.process_time() - started, redacted

    took, redacted = cpu_seconds(text)
    budget = ADVERSARIAL_FACTOR * cpu_seconds(ordinary)[0]
    if took >= budget:  # a busy 2-core machine slows even CPU time (shared caches, clocks): a second run decides
        took = min(took, cpu_seconds(text)[0])
        budget = max(budget, ADVERSARIAL_FACTOR * cpu_seconds(ordinary)[0])
    assert took < budget, f"{took:.2f} s, budget {budget:.2f} s"
    assert redacted.count("\n") == text.count("\n")


def test_redaction_time_grows_linearly():
    """Twice the text takes about twice the time, not four times. Each size is timed three times and the
    fastest counts: noise on a busy machine only ever adds time, so one slow run must not decide."""
    def took(text: str) -> float:
        timings = []
        for _ in range(3):
            started = time.process_time()
            redact(text)
            timings.append(time.process_time() - started)
        return min(timings)

    for fragment in ("password.", "pwd=ab1 ", "h://u:p", "token-"):
        one, two = took(_megabyte(fragment) * 2), took(_megabyte(fragment) * 4)
        assert two < 3 * max(one, 0.01), (fragment, one, two)


def test_past_the_time_budget_the_rest_is_withheld_never_passed_on():
    line = "password=hunter22 and some ordinary words to fill the line up\n"
    text = line * 20_000  # over 1 MB: several blocks
    result = redact(text, budget_s=0.0)
    assert result.withheld_from is not None and result.withheld_from > 1
    lines = result.text.split("\n")
    assert len(lines) == len(text.split("\n"))
    assert "hunter22" not in result.text
    assert all(not line for line in lines[result.withheld_from - 1:])
    assert lines[0] == f"password={REDACTED} and some ordinary words to fill the line up"
    assert redact(text).withheld_from is None


_fragments = st.sampled_from([s.text for s in SAMPLES] + ORDINARY + [
    "plain words", "", "  indented line", "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----",
    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "password:", "token = ", "\t", "x" * 50, "Cookie:", "curl -u", "@host",
    "://", "=", '"', "'", "Private-Lines: 3", "Bearer", "mysql -p", "login x", "password y",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_fragments, max_size=20), st.sampled_from(["\n", " ", "", "\n\n", "&", ";"]))
# found by hypothesis: a PuTTY line right after a PEM key's END marker starts a line only once the key is redacted
@example(["-----BEGIN RSA PRIVATE KEY-----\n" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" * 2
          + "\n-----END RSA PRIVATE KEY-----", "Private-Lines: 3"], "")
# found by hypothesis: a secret-named word run into a shell expansion, "...PASSWORD=${DB_PASSWORD:?set it}",
# whose "$" alone was taken for the value, leaving "{DB_PASSWORD:?set" to read as an assignment
@example(["openssl pkcs12 -export -in c.pem -inkey k.pem -out c.p12 -passout pass:iK2EVCIL5RiLiT",
          "DB_PASSWORD=${DB_PASSWORD:?set it}"], "")
def test_redaction_keeps_lines_and_is_idempotent(parts, joiner):
    text = joiner.join(parts)
    once = redact_secrets(text)
    assert once.count("\n") == text.count("\n")
    assert redact_secrets(once) == once
