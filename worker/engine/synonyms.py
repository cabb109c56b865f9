"""On-call synonyms: words that people and runbooks or logs use for the same thing.

Someone asks how to "revert" where the runbook says "roll back" and runs ``rollout undo``; asks whether
the node runs out of "disk" where the kubelet logs ``ephemeral-storage``. MiniLM relates such words only
weakly, and BM25 not at all. ``expansion`` gives the other words of every group (``GROUPS``) that one of
the question's words (stemmed as ``runbook_lookup.terms`` does: "reverted", "disks") belongs to; the
retriever scores them as extra lexical terms at ``EXPANSION_WEIGHT`` of a question's own words.

The groups are general operations vocabulary, one meaning each, single words (BM25 terms).
"""

from __future__ import annotations

from worker.documents.runbook_lookup import terms

EXPANSION_WEIGHT = 0.5  # of an added word's BM25 score, next to the question's own words
MAX_QUESTION_CHARS = 2000

GROUPS: tuple[frozenset[str], ...] = tuple(frozenset(group) for group in (
    ("revert", "rollback", "roll", "undo", "downgrade"),
    ("restart", "bounce", "reboot", "recycle"),
    ("disk", "storage", "filesystem", "volume"),
    ("memory", "ram", "oom"),
    ("certificate", "cert", "tls", "ssl"),
    ("deploy", "deployment", "release", "rollout"),
))


def expansion(question: str) -> str:
    """The words of the groups the question's words belong to that the question does not hold, joined by
    spaces ("" when none): BM25 terms to add at ``EXPANSION_WEIGHT``."""
    asked = set(terms(question[:MAX_QUESTION_CHARS]))
    extra = [word for group in GROUPS if group & asked for word in sorted(group - asked)]
    return " ".join(dict.fromkeys(extra))
