"""Redacting gathered documents: secrets out of their text and title (what counts as a secret, and how it
is found in linear time: jobs/redact.py), once per distinct text, within a time budget.

* Once per text: the redacted form of each distinct text, keyed by its BLAKE2 hash, is kept in an LRU
  bounded in bytes, so a pinned message or a runbook gathered for every question is redacted once, not
  once per question.
* Within a time budget: a document whose redaction takes longer than ``budget_s`` keeps the lines
  redacted in time; the rest are withheld (left empty, so line numbers and citations stay exact) and a
  note says so. Nothing is ever passed on unredacted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

from jobs.redact import REDACTED, Redacted, redact, redact_secrets
from worker.documents.document import Document
from worker.documents.settings import GatheringSettings
from worker.lru import SizedLRU

__all__ = ["REDACTED", "DocumentRedactor", "redact_secrets"]

log = logging.getLogger(__name__)

CACHE_BYTES = 64 << 20  # redacted text kept for texts gathered again
_SMALL = 256  # shorter texts (titles, short messages) are their own cache key; longer ones, their hash


class DocumentRedactor:
    """Thread-safe: job threads gather in parallel and share one."""

    def __init__(self, *, budget_s: float = GatheringSettings.redact_budget_s, cache_bytes: int = CACHE_BYTES) -> None:
        self.budget_s = budget_s
        self.cache_bytes = cache_bytes
        self._cache: SizedLRU[str | bytes, Redacted] = SizedLRU(cache_bytes, lambda done: len(done.text) + _SMALL)

    def text(self, text: str) -> Redacted:
        """``text`` redacted within the budget; the same text again comes from the cache (a runbook folder
        of 2,000 files gathered per question: 2,000 titles and texts, each redacted once)."""
        key: str | bytes = text
        if len(text) >= _SMALL:
            key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        done = self._cache.get(key)
        if done is not None:
            return done
        done = redact(text, budget_s=self.budget_s)
        if done.text == text:  # nothing to redact: hold the caller's string, not a copy
            done = Redacted(text)
        if len(done.text) <= self.cache_bytes:  # a text bigger than the whole cache is not kept
            self._cache.put(key, done)
        return done

    def document(self, document: Document) -> Document:
        """``document`` with its text and title redacted; a note when lines had to be withheld."""
        text = self.text(document.text)
        title = self.text(document.title).text
        notes = document.notes
        if text.withheld_from is not None:
            first = document.first_line + text.withheld_from - 1
            last = document.first_line + text.text.count("\n")
            log.warning("redacting %s took over %.1f s: lines %d-%d withheld", document.doc_id, self.budget_s,
                        first, last)
            notes = (*notes, f"{title}: lines {first}-{last} were left out (checking them for secrets took "
                             f"too long)")
        if text.text is document.text and title == document.title and notes is document.notes:
            return document
        return replace(document, text=text.text, title=title, notes=notes)
