"""On-call synonyms: words that people and runbooks or logs use for the same thing.

Someone asks how to "revert" where the runbook says "roll back" and runs ``rollout undo``; asks whether
the node runs out of "disk" where the kubelet logs ``ephemeral-storage``. MiniLM relates such words only
weakly, and BM25 not at all. ``expansion`` gives the other words of every group (``GROUPS``) that one of
the question's words (stemmed as ``runbook_lookup.terms`` does: "reverted", "disks") belongs to; the
retriever scores them as extra lexical terms at ``EXPANSION_WEIGHT`` of a question's own words.

The groups are general operations vocabulary, one meaning each, single words (BM25 terms). A name for
an HTTP status ("rate limiting", "gateway timeouts") adds the status code that access logs write, and asking
whom to call adds "escalation", what runbooks head that section with.

Some groups name a resource that runs out (``RESOURCES``: disk, memory). A question about one of them is
not answered by log lines about another alone: "is the node running out of disk?" reads, to MiniLM and
to BM25, much like "Memory cgroup out of memory". ``resource_mismatch`` marks the log chunks that name
some resource but none that the question names (runbooks are left to their titles and headings, and a
question over thousands of runbook chunks scans none of them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from worker.documents.document import Chunk
from worker.documents.runbook_lookup import terms
from worker.engine.base import MAX_QUESTION_CHARS

EXPANSION_WEIGHT = 0.5  # of an added word's BM25 score, next to the question's own words

DISK = frozenset(("disk", "storage", "filesystem", "volume"))
MEMORY = frozenset(("memory", "ram", "oom"))
GROUPS: tuple[frozenset[str], ...] = tuple(frozenset(group) for group in (
    ("revert", "rollback", "roll", "undo", "downgrade", "yank"),
    ("restart", "bounce", "reboot", "recycle"),
    ("scale", "faster", "bigger", "throughput", "capacity"),  # "make it go faster" asks for the "Scale up" section
    DISK,
    MEMORY,
    ("certificate", "cert", "tls", "ssl"),
    ("deploy", "deployment", "release", "rollout"),
    ("primary", "master", "leader"),
    ("replica", "slave", "secondary", "standby", "follower"),
    ("webhook", "callback", "hook"),
    ("signature", "hmac"),
    ("signup", "register", "registration", "enroll"),  # "who was spamming the signup endpoint?" and POST /register
    ("defer", "deferred", "temporarily", "later"),  # "mails got 'try later'" and "temporarily rejected", "defer (111)"
    ("retract", "withdraw", "unpublish", "delete", "kill"),  # "how do i kill that auto post?" and ``event delete``
    # "during the dns thing" and "getaddrinfo: Temporary failure in name resolution"
    ("dns", "resolution", "resolver", "getaddrinfo", "nxdomain", "servfail"),
))
RESOURCES = (DISK, MEMORY)
# a question that asks whom to call: "who do i get out here at 2am", "who do we page", "who's on call"
WHOM_TO_CALL = (r"\bwho (?:do|should|can|could|would) (?:i|we|you) (?:\w+ )?(?:call|ring|phone|page|get|wake|contact"
                r"|escalate|ping)\b|\bwho(?:'s| is) on[- ]?call\b|\bwho to (?:call|ring|phone|page|contact|escalate)\b"
                # the number to call: "whats the pinsetter camera vendor support # ?", "their phone number"
                r"|\b(?:phone|support|contact|hotline|helpdesk|help desk)\s*(?:#|(?:number|no\.?|line)\b)|\bhotline\b")
# what people call an HTTP status, and the code that access logs write instead; and whom to call
STATUS_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern, re.IGNORECASE), code)
                                                                  for pattern, code in (
    (r"\brate[- ]?limit\w*|\bthrottl\w*|\btoo many requests\b", "429"),
    (r"\bgateway time-?outs?\b", "504"),
    (r"\bbad gateways?\b", "502"),
    (r"\bservice unavailable\b", "503"),
    (r"\binternal server errors?\b", "500"),
    (r"\bforbidden\b", "403"),
    (r"\bunauthori[sz]ed\b", "401"),
    (WHOM_TO_CALL, "escalation"),  # what runbooks head the section with
))


def expansion(question: str) -> str:
    """The words of the groups the question's words belong to that the question does not hold, and the
    words of the phrases it uses (``STATUS_PHRASES``: HTTP statuses, whom to call) that it does not write, joined by
    spaces (""
    when none): BM25 terms to add at ``EXPANSION_WEIGHT``."""
    head = question[:MAX_QUESTION_CHARS]
    asked = set(terms(head))
    extra = [word for group in GROUPS if group & asked for word in sorted(group - asked)]
    extra += [code for pattern, code in STATUS_PHRASES if code not in asked and pattern.search(head)]
    return " ".join(dict.fromkeys(extra))


def resource_mismatch(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in {0, 1}
    """1 for each log chunk that names a resource (``RESOURCES``) but none of those the question names;
    zeros for other chunks, and when the question names none."""
    asked = _resources(question[:MAX_QUESTION_CHARS])
    scores = np.zeros(len(chunks), np.float32)
    if not asked:
        return scores
    for index, chunk in enumerate(chunks):
        if chunk.document.kind == "log":
            named = _resources(chunk.text)
            scores[index] = float(bool(named) and not named & asked)
    return scores


_RESOURCE_WORD = re.compile(r"(?i)\b(" + "|".join(sorted(set().union(*RESOURCES))) + r")s?\b")  # one scan a text
_RESOURCE_OF = {word: n for n, group in enumerate(RESOURCES) for word in group}


@functools.lru_cache(maxsize=65_536)
def _resources(text: str) -> frozenset[int]:
    """Which of ``RESOURCES`` (their positions) a text names (a word of the group, or its plural)."""
    lower = text.lower()
    if not any(word in lower for word in _RESOURCE_OF):  # substring scans first: most texts name none
        return frozenset()
    return frozenset(_RESOURCE_OF[word.lower()] for word in _RESOURCE_WORD.findall(text))
