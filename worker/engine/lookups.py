"""Lookup questions about a log: the kind of value a question asks for, and the log chunks that state one.

"Which version was running?", "what port does it listen on?", "which host does it connect to?" ask
for a value that a log states once, usually in a start-up or configuration line, while the words of the
question ("running", the service's name) are on every request line. So a question that names a kind of
value (``VALUE_KINDS``: a version, a port, a host or address, a file path) weighs the log chunks that
hold a value of that shape: ``2.14.1``, ``v1.19.0``, ``Java 21.0.2``; ``:8080``, ``port 5432``; a URL,
an IP address, ``host:port``; ``/var/lib/...``. "When did the database come back up?" asks for the same
kind of line: the one that says the service recovered (``ready to accept connections``, ``back online``),
not the crash before it, whose lines share the question's words, nor the first start-up (a recovery line
after the log's first error counts in full, one before it half). Other questions, and chunks of
documents that are not logs, get nothing.

Pure functions of the question and the candidates' text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from worker.documents.document import Chunk
from worker.documents.log_format import Severity
from worker.engine.incidents import text_severity

MAX_QUESTION_CHARS = 2000  # what is asked is read from the start of the question; a pasted log adds nothing

_VERSION = (r"(?<![\w.])v\d+(?:\.\d+)+\b"  # v1.19.0, v3.4
            r"|(?<![\w.])\d+\.\d+\.\d+(?:[-+][\w.]+)?(?![\w.]*\.\d)"  # 2.14.1, 1.2.3-rc1 (not an IP address)
            r"|\b[A-Z][A-Za-z]+[ /]\d+\.\d+\b"  # Java 21.0.2, PostgreSQL 16.2, nginx/1.25
            r"|(?i:\bversion\b[\"']?\s*[=:]\s*[\"']?\w[\w.+-]*)")  # version=..., "version": "..."
_PORT = r"(?<!\d\d):\d{2,5}\b(?![:.,]\d)|(?i:\bport\b[\"']?\s*[=: ]\s*\d{2,5}\b)"
_ADDRESS = (r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+"  # a URL
            r"|(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])"  # an IPv4 address
            r"|\b[a-z][\w-]*(?:\.[\w-]+)+:\d{2,5}\b")  # host.domain:port
_PATH = r"(?<![\w.:/])/[\w.-]+(?:/[\w.-]+)+"
_RECOVERED = (r"(?i)\bready to (?:accept|serve)\b|\b(?:is|became|now) (?:ready|healthy|up)\b|\brecovered\b"
              r"|\brestored\b|\bresumed\b|\bback (?:up|online|to normal)\b|\bup and running\b|\blistening on\b"
              r"|\bstarted successfully\b|\bstartup complete\b|\breconnected\b")

# (what a question says when it asks for the value, what the value looks like in a log line)
VALUE_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "version": (re.compile(r"(?i)\b(?:versions?|releases?)\b"), re.compile(_VERSION)),
    "port": (re.compile(r"(?i)\bports?\b"), re.compile(_PORT)),
    "address": (re.compile(r"(?i)\b(?:hosts?|hostnames?|address(?:es)?|urls?|endpoints?|ips?)\b"),
                re.compile(_ADDRESS)),
    "path": (re.compile(r"(?i)\b(?:paths?|director(?:y|ies)|folders?)\b"), re.compile(_PATH)),
    "recovery": (re.compile(r"(?i)\b(?:c[oa]me|coming|got|get|was|is) back\b|\bback (?:up|online)\b|\brecovered\b"
                            r"|\bup again\b|\bworking again\b"), re.compile(_RECOVERED)),
}


def asked_values(question: str) -> list[str]:
    """The kinds of value (keys of ``VALUE_KINDS``) the question asks for, in ``VALUE_KINDS`` order."""
    head = question[:MAX_QUESTION_CHARS]
    return [kind for kind, (asked, _) in VALUE_KINDS.items() if asked.search(head)]


def asks_about_recovery(question: str) -> bool:
    """The question asks when or whether a service came back ("recovery" in ``VALUE_KINDS``)."""
    return "recovery" in asked_values(question)


@functools.lru_cache(maxsize=65_536)
def states_value(kind: str, text: str) -> bool:
    """The text holds a value of that kind (``VALUE_KINDS``)."""
    return bool(VALUE_KINDS[kind][1].search(text))


def lookup_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in [0, 1]
    """For a question that asks for a kind of value: the share of the asked kinds that each log chunk
    states; zeros for other questions and for chunks of documents that are not logs."""
    scores = np.zeros(len(chunks), np.float32)
    kinds = asked_values(question)
    if not kinds:
        return scores
    crashes = _first_incident_lines(chunks) if "recovery" in kinds else {}
    for index, chunk in enumerate(chunks):
        if chunk.document.kind != "log":
            continue
        for kind in kinds:
            if not states_value(kind, chunk.text):
                continue
            after_a_crash = chunk.line_start > crashes.get(chunk.document.doc_id, chunk.line_start)
            scores[index] += 1.0 if kind != "recovery" or after_a_crash else 0.5  # not the first start-up
        scores[index] /= len(kinds)
    return scores


def _first_incident_lines(chunks: Sequence[Chunk]) -> dict[str, int]:
    """The first line of each log's first incident chunk (errors or worse) among the candidates."""
    first: dict[str, int] = {}
    for chunk in chunks:
        if chunk.document.kind == "log" and text_severity(chunk.text) >= Severity.ERROR:
            doc_id = chunk.document.doc_id
            first[doc_id] = min(first.get(doc_id, chunk.line_start), chunk.line_start)
    return first
