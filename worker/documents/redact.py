"""Redact secrets (tokens, passwords, private keys, auth headers) from text before it goes anywhere.

Applied by the gatherer to every document, so nothing downstream (compression, storage, quoting in Slack)
ever sees the secret. Redaction never changes the number of lines: log citations stay exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable

REDACTED = "[REDACTED]"

# A multi-line PEM private key block; replaced by one marker line plus the same number of newlines.
_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----.*?-----END \1PRIVATE KEY\2-----", re.DOTALL
)
# A key cut off by a size cap (no END line): the header and the base64 lines that follow it.
_PEM_UNTERMINATED = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[^\n]*(?:\n[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*(?=\n|$))*"
)

# Whole-match secrets: the matched text is replaced by the marker.
_WHOLE_MATCH = [
    re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{8,}"),  # Slack bot, user, app-level... tokens
    re.compile(r"\bxapp-\d-[A-Za-z0-9-]{8,}"),  # Slack app-level token
    re.compile(r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]+"),  # Slack webhooks
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}\b"),
    re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"),  # GitLab
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API keys
    re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b"),  # Stripe
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWTs
]

# Keep the first group (the name / header / scheme), replace the rest.
_KEEP_PREFIX = [
    # Authorization: Bearer xyz / Basic abc= / Token xyz, also Proxy-Authorization
    re.compile(r"(?i)((?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:bearer|basic|token|digest)[ \t]+)"
               r"[^\s\"',;]+"),
    re.compile(r"(?i)(\bbearer[ \t]+)[A-Za-z0-9._~+/-]{8,}=*"),
    # scheme://user:password@host
    re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?=@)"),
    # password=..., "password": "...", pwd: ...
    re.compile(r"(?i)(\b[\w.-]*(?:password|passwd|passphrase|pwd)[\w.-]*[\"']?[ \t]*(?:=|:)[ \t]*[\"']?)"
               r"[^\s\"',;&]+"),
    # api_key=..., client_secret: ..., "token": "...", X-Api-Key: ...
    re.compile(r"(?i)(\b[\w.-]*(?:api[_-]?key|apikey|secret|token|access[_-]?key|private[_-]?key|"
               r"credentials?|session[_-]?id)[\w.-]*[\"']?[ \t]*(?:=|:)[ \t]*[\"']?)"
               r"(?!\[REDACTED\])[^\s\"',;&]{6,}"),
    # aws_secret_access_key style values that are 40 base64-ish chars after "aws" and "secret"
    re.compile(r"(?i)(\baws[\w.-]*secret[\w.-]*[\"']?[ \t]*(?:=|:)[ \t]*[\"']?)[A-Za-z0-9/+=]{20,}"),
]


# Literal text each _WHOLE_MATCH pattern needs, so patterns with nothing to find are not run at all.
_WHOLE_NEEDLES = (("xox",), ("xapp-",), ("hooks.slack.com",), ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA"),
                  ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), ("github_pat_",), ("glpat-",), ("AIza",),
                  ("sk_live_", "sk_test_", "rk_live_", "rk_test_"), ("eyJ",))
# Lower-case text a line needs for the _KEEP_PREFIX patterns to be worth running on it.
_LINE_NEEDLES = ("pass", "pwd", "key", "secret", "token", "credential", "session", "authoriz", "bearer", "://")


def _lines_to_check(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line containing one of _LINE_NEEDLES, in order."""
    low = text.lower()
    if len(low) != len(text):  # a few Unicode characters change length when lower-cased
        return [(0, len(text))]
    spans = set()
    for needle in _LINE_NEEDLES:
        found = low.find(needle)
        while found >= 0:
            start = low.rfind("\n", 0, found) + 1
            end = low.find("\n", found)
            end = len(low) if end < 0 else end
            spans.add((start, end))
            found = low.find(needle, end)
    return sorted(spans)


def _pem_replacement(match: re.Match[str]) -> str:
    return f"{REDACTED} private key" + "\n" * match.group(0).count("\n")


def _keep_prefix(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def _redact_line(line: str) -> str:
    replace: Callable[[re.Match[str]], str] = _keep_prefix
    for pattern in _KEEP_PREFIX:
        line = pattern.sub(replace, line)
    return line


def redact_secrets(text: str) -> str:
    """``text`` with every secret replaced by ``[REDACTED]``; same number of lines as ``text``."""
    if "PRIVATE KEY" in text:
        text = _PEM_PRIVATE_KEY.sub(_pem_replacement, text)
        text = _PEM_UNTERMINATED.sub(_pem_replacement, text)
    for pattern, needles in zip(_WHOLE_MATCH, _WHOLE_NEEDLES, strict=True):
        if any(needle in text for needle in needles):
            text = pattern.sub(REDACTED, text)
    out: list[str] = []
    done = 0  # text[:done] is in ``out`` already
    for start, end in _lines_to_check(text):
        out.append(text[done:start])
        out.append(_redact_line(text[start:end]))
        done = end
    out.append(text[done:])
    return "".join(out)
