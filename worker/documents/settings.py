"""Settings for gathering documents: where runbooks live, which pages may be fetched, size and time caps.

Environment variables read by :meth:`GatheringSettings.from_env` (all optional):

=================================  ==================================================================
``CHATOPS_RUNBOOK_DIR``            runbook folder or git checkout (markdown, text); unset: no runbooks
``CHATOPS_RUNBOOK_BASE_URL``       prefix for runbook links, e.g. ``https://github.com/acme/runbooks/blob/main/``
                                   (unset: links are paths relative to the runbook folder)
``CHATOPS_CHANNEL_CONFIG``         YAML file mapping channels to sources (see jobs/channel_config.py);
                                   unset: every source in every channel
``CHATOPS_LINK_ALLOWLIST``         comma-separated hosts whose pages may be fetched: ``wiki.acme.io``,
                                   ``*.acme.io`` (any subdomain), ``10.0.0.5:8080`` (that port only);
                                   unset: no page is fetched
``CHATOPS_FETCH_TIMEOUT_S``        seconds for fetching one linked page, all of it (default 5)
``CHATOPS_MAX_PAGE_BYTES``         bytes read from one page; longer pages are cut, with a note (1 MB)
``CHATOPS_MAX_LINKS``              pages fetched per question from recent messages (default 5)
``CHATOPS_MAX_REDIRECTS``          redirects followed per page, each checked against the allowlist (3)
``CHATOPS_DOWNLOAD_TIMEOUT_S``     seconds for downloading one Slack file, reading it as it streams (a big log
                                   is reduced on the way) (default 120)
``CHATOPS_MAX_FILE_BYTES``         bytes of one file (after gunzip) kept; bigger files keep their first
                                   fifth and last four fifths of this, with a note on what was skipped (5 MB)
``CHATOPS_MAX_SCAN_BYTES``         bytes of one file read at most (logs: all of them are read) (default 1 GB)
``CHATOPS_LOG_REDUCE_BYTES``       logs bigger than this are reduced to their incidents, rare lines and a
                                   summary (worker/documents/log_reduce.py) (default 1 MB)
``CHATOPS_RECENT_FILES_WINDOW_S``  how far back "recent channel uploads" go, in seconds (default 7 days)
``CHATOPS_MAX_CHANNEL_FILES``      recent channel uploads read per question (default 10)
``CHATOPS_MAX_THREAD_FILES``       files of the question and its thread read per question (default 20;
                                   the question's own first, then the thread's newest)
``CHATOPS_RECENT_MESSAGES``        recent channel messages searched for links (default 50)
``CHATOPS_MAX_RUNBOOK_BYTES``      runbooks bigger than this are skipped (default 2 MB)
``CHATOPS_REDACT_BUDGET_S``        seconds spent finding secrets in one document; lines not checked by then
                                   are left out, with a note (default 5)
=================================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jobs.env import Env, SettingsError
from worker.documents.file_documents import FileCaps


@dataclass(frozen=True)
class GatheringSettings:
    runbook_dir: Path | None = None
    runbook_base_url: str | None = None
    channel_config_path: Path | None = None
    link_allowlist: tuple[str, ...] = ()
    fetch_timeout_s: float = 5.0
    max_page_bytes: int = 1_000_000
    max_links: int = 5
    max_redirects: int = 3
    download_timeout_s: float = 120.0
    max_file_bytes: int = 5_000_000
    max_scan_bytes: int = 1_000_000_000
    reduce_logs_above: int = 1_000_000
    recent_files_window_s: int = 7 * 24 * 3600
    max_channel_files: int = 10
    max_thread_files: int = 20
    recent_messages: int = 50
    max_runbook_bytes: int = 2_000_000
    redact_budget_s: float = 5.0

    @property
    def caps(self) -> FileCaps:
        return FileCaps(self.max_file_bytes, self.max_scan_bytes, self.reduce_logs_above)

    def __post_init__(self) -> None:
        for name in ("fetch_timeout_s", "download_timeout_s", "redact_budget_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")
        for name in ("max_page_bytes", "max_file_bytes", "max_scan_bytes", "max_runbook_bytes", "reduce_logs_above"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        if self.max_scan_bytes < self.max_file_bytes:
            raise SettingsError("max_scan_bytes must be at least max_file_bytes")
        for name in ("max_links", "max_redirects", "recent_files_window_s", "max_channel_files",
                     "max_thread_files", "recent_messages"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must not be negative")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GatheringSettings:
        """Settings from ``CHATOPS_*`` variables (see the module docstring); unset or empty: the default.

        Raises ``SettingsError`` (a ValueError) naming the variable when a value cannot be parsed.
        """
        env = Env(environ)
        d = cls()
        allowlist = tuple(h.strip().lower() for h in (env.text("CHATOPS_LINK_ALLOWLIST") or "").split(",")
                          if h.strip())
        return cls(
            runbook_dir=env.path("CHATOPS_RUNBOOK_DIR"),
            runbook_base_url=env.text("CHATOPS_RUNBOOK_BASE_URL"),
            channel_config_path=env.path("CHATOPS_CHANNEL_CONFIG"),
            link_allowlist=allowlist,
            fetch_timeout_s=env.number("CHATOPS_FETCH_TIMEOUT_S", d.fetch_timeout_s),
            max_page_bytes=env.number("CHATOPS_MAX_PAGE_BYTES", d.max_page_bytes),
            max_links=env.number("CHATOPS_MAX_LINKS", d.max_links),
            max_redirects=env.number("CHATOPS_MAX_REDIRECTS", d.max_redirects),
            download_timeout_s=env.number("CHATOPS_DOWNLOAD_TIMEOUT_S", d.download_timeout_s),
            max_file_bytes=env.number("CHATOPS_MAX_FILE_BYTES", d.max_file_bytes),
            max_scan_bytes=env.number("CHATOPS_MAX_SCAN_BYTES", d.max_scan_bytes),
            reduce_logs_above=env.number("CHATOPS_LOG_REDUCE_BYTES", d.reduce_logs_above),
            recent_files_window_s=env.number("CHATOPS_RECENT_FILES_WINDOW_S", d.recent_files_window_s),
            max_channel_files=env.number("CHATOPS_MAX_CHANNEL_FILES", d.max_channel_files),
            max_thread_files=env.number("CHATOPS_MAX_THREAD_FILES", d.max_thread_files),
            recent_messages=env.number("CHATOPS_RECENT_MESSAGES", d.recent_messages),
            max_runbook_bytes=env.number("CHATOPS_MAX_RUNBOOK_BYTES", d.max_runbook_bytes),
            redact_budget_s=env.number("CHATOPS_REDACT_BUDGET_S", d.redact_budget_s),
        )
