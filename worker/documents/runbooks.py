"""The configured runbook folder or git checkout (markdown and text), re-read when a file changes.

Files are cached by (mtime, size): unchanged ones are not re-read, changed ones are, deleted ones drop
out. Hidden folders (``.git``) are not searched. Runbooks are team documents: not restricted.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from worker.documents.base import GatherRequest
from worker.documents.document import Document
from worker.documents.file_content import human_bytes
from worker.documents.skipped import skipped_document

log = logging.getLogger(__name__)

RUNBOOK_SUFFIXES = (".md", ".markdown", ".txt", ".rst")
MAX_RUNBOOK_BYTES = 2_000_000


def _title(path: Path, text: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem.replace("-", " ").replace("_", " ")


def runbook_files(root: Path) -> list[Path]:
    """Runbook files under ``root``, sorted, skipping hidden files and folders."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(RUNBOOK_SUFFIXES):
                found.append(Path(folder) / name)
    return found


class RunbookFolder:
    name = "runbooks"

    def __init__(self, root: Path, *, base_url: str | None = None, max_bytes: int = MAX_RUNBOOK_BYTES) -> None:
        self.root = root
        self.base_url = base_url
        self.max_bytes = max_bytes
        self._cache: dict[Path, tuple[tuple[int, int], Document]] = {}
        self._lock = threading.Lock()

    def _link(self, relative: str) -> str:
        return self.base_url.rstrip("/") + "/" + relative if self.base_url else relative

    def gather(self, request: GatherRequest) -> list[Document]:
        if not self.root.is_dir():
            log.warning("runbook folder %s does not exist", self.root)
            return []
        with self._lock:
            documents = []
            seen = set()
            for path in runbook_files(self.root):
                seen.add(path)
                document = self._read(path)
                if document is not None:
                    documents.append(document)
            for gone in set(self._cache) - seen:
                del self._cache[gone]
            return documents

    def _read(self, path: Path) -> Document | None:
        try:
            stat = path.stat()
        except OSError:
            return None  # deleted while walking
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        relative = path.relative_to(self.root).as_posix()
        if stat.st_size > self.max_bytes:
            log.warning("skipping runbook %s: %d bytes is over the %d byte cap", path, stat.st_size, self.max_bytes)
            document = skipped_document(f"runbook:{relative}", relative,
                                        f"over the {human_bytes(self.max_bytes)} runbook cap")
        else:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                log.warning("cannot read runbook %s: %s", path, exc)
                return None
            document = Document(doc_id=f"runbook:{relative}", title=_title(path, text), text=text,
                                kind="runbook", link=self._link(relative))
        self._cache[path] = (key, document)
        return document
