"""Documents with their secrets redacted, once per unchanged document: what goes into the index."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

from worker.documents.document import Document
from worker.documents.redact import redact_secrets

REDACTED_MEMO_BYTES = 256 << 20  # text of redacted documents kept for the next gathering
_redacted_memo: OrderedDict[Document, Document] = OrderedDict()
_redacted_bytes = 0
_redacted_lock = threading.Lock()


def redacted(document: Document) -> Document:
    """The document with secrets redacted from its text and title (redact.py); the same document,
    gathered again unchanged (a runbook read before), is not scanned again. Everything that goes into
    the index passes through here, so the index never holds a secret."""
    global _redacted_bytes
    with _redacted_lock:
        done = _redacted_memo.get(document)
        if done is not None:
            _redacted_memo.move_to_end(document)
            return done
    done = replace(document, text=redact_secrets(document.text), title=redact_secrets(document.title))
    with _redacted_lock:
        if document not in _redacted_memo:
            _redacted_memo[document] = done
            _redacted_bytes += 2 * len(document.text)
        while _redacted_bytes > REDACTED_MEMO_BYTES and _redacted_memo:
            evicted, _ = _redacted_memo.popitem(last=False)
            _redacted_bytes -= 2 * len(evicted.text)
    return done


def forget_redacted() -> None:
    """Forget the redacted documents kept so far (a benchmark's simulated restart)."""
    global _redacted_bytes
    with _redacted_lock:
        _redacted_memo.clear()
        _redacted_bytes = 0
