"""Per-channel settings: which sources answer questions asked in a channel, and who is on call for it.

A YAML file (``CHATOPS_CHANNEL_CONFIG``), re-read when it changes. Both processes read it: the worker for
the sources, the bot for the on-call user group of the "Ask a human" button. Format: a mapping from a
channel id (``C0123ABCD``) or name (``payments-oncall`` or ``"#payments-oncall"``) to its settings, plus a
``default`` entry for every other channel::

    default: [runbooks, thread_files, channel_files, bookmarks, pins, links]
    C0123ABCD: [runbooks, thread_files]          # a list: just the sources (by id: checked first)
    "#payments-oncall":                          # a mapping: sources and/or the on-call user group
      sources: [runbooks, thread_files, channel_files, pins]
      oncall: "@payments-oncall"                 # a user group handle, or its id (S0123ABCD)
    "#random": []                                # nothing: questions there get "no documents"

Source names: ``runbooks`` (the runbook folder), ``thread_files`` (files attached to the question or in
its thread), ``channel_files`` (recent uploads in the channel), ``bookmarks``, ``pins`` (pinned messages
and files), ``links`` (allowlisted pages linked in recent messages). What a channel's entry leaves out
comes from ``default``; without ``default`` every source is read and nobody is on call. An unknown source
name, a malformed on-call group or a malformed file is an error when the file is loaded.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

SOURCE_NAMES = ("runbooks", "thread_files", "channel_files", "bookmarks", "pins", "links")
_ONCALL = re.compile(r"@?[a-z0-9][a-z0-9._-]{0,79}|S[A-Z0-9]{6,20}", re.IGNORECASE)
_ENTRY_KEYS = {"sources", "oncall"}


@dataclass(frozen=True)
class ChannelSettings:
    sources: tuple[str, ...] = SOURCE_NAMES
    oncall: str | None = None  # a user group: "@payments-oncall" (its handle) or its id "S0123ABCD"


@dataclass(frozen=True)
class ChannelConfig:
    """The parsed mapping. ``by_channel`` keys are channel ids or names without ``#``."""

    default: ChannelSettings = field(default_factory=ChannelSettings)
    by_channel: Mapping[str, ChannelSettings] = field(default_factory=dict)

    @property
    def names_used(self) -> bool:
        """True when some key is a channel name, so a channel's name must be looked up."""
        return any(not _looks_like_channel_id(key) for key in self.by_channel)

    def settings_for(self, channel_id: str,
                     channel_name: Callable[[str], str | None] | None = None) -> ChannelSettings:
        """The settings for ``channel_id``; ``channel_name(id)`` is asked only when names are used."""
        if channel_id in self.by_channel:
            return self.by_channel[channel_id]
        if self.names_used and channel_name is not None:
            name = channel_name(channel_id)
            if name and name.lstrip("#") in self.by_channel:
                return self.by_channel[name.lstrip("#")]
        return self.default

    def sources_for(self, channel_id: str,
                    channel_name: Callable[[str], str | None] | None = None) -> tuple[str, ...]:
        return self.settings_for(channel_id, channel_name).sources

    def oncall_for(self, channel_id: str, channel_name: Callable[[str], str | None] | None = None) -> str | None:
        return self.settings_for(channel_id, channel_name).oncall

    @classmethod
    def parse(cls, data: Any, origin: str = "channel config") -> ChannelConfig:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f"{origin}: expected a mapping of channel -> sources or settings")
        default = _entry(data["default"], ChannelSettings(), f"{origin}: default") if "default" in data \
            else ChannelSettings()
        by_channel = {str(key).strip().lstrip("#"): _entry(value, default, f"{origin}: {key}")
                      for key, value in data.items() if str(key) != "default"}
        return cls(default=default, by_channel=by_channel)

    @classmethod
    def load(cls, path: Path) -> ChannelConfig:
        with path.open(encoding="utf-8") as handle:
            try:
                data = yaml.safe_load(handle)
            except yaml.YAMLError as exc:
                raise ValueError(f"{path}: not valid YAML: {exc}") from None
        return cls.parse(data, str(path))


def _looks_like_channel_id(key: str) -> bool:
    return len(key) >= 9 and key[0] in "CGD" and key.isalnum() and key.isupper()


def _entry(value: Any, default: ChannelSettings, where: str) -> ChannelSettings:
    """A list (the sources) or a mapping with ``sources`` and/or ``oncall``; what it leaves out is
    ``default``'s."""
    if not isinstance(value, Mapping):
        return ChannelSettings(sources=_source_list(value, where), oncall=default.oncall)
    unknown = set(map(str, value)) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown setting {', '.join(sorted(unknown))} (known: sources, oncall)")
    sources = _source_list(value["sources"], where) if "sources" in value else default.sources
    oncall = value.get("oncall", default.oncall)
    if oncall is not None and (not isinstance(oncall, str) or not _ONCALL.fullmatch(oncall.strip())):
        raise ValueError(f"{where}: oncall must be a user group handle (\"@payments-oncall\") or id, "
                         f"not {oncall!r}")
    return ChannelSettings(sources=sources, oncall=oncall.strip() if oncall else None)


def _source_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of source names")
    unknown = [v for v in value if v not in SOURCE_NAMES]
    if unknown:
        raise ValueError(f"{where}: unknown source {', '.join(unknown)} (known: {', '.join(SOURCE_NAMES)})")
    return tuple(dict.fromkeys(value))


class ChannelConfigFile:
    """A channel config file, re-read when its modification time or size changes.

    A file that is missing or broken at start-up is an error; a later broken edit is logged and the last
    good mapping is kept, so a typo cannot take the bot down.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._key = self._stat_key()
        self._config = ChannelConfig.load(path)  # raises when missing or broken

    def _stat_key(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def current(self) -> ChannelConfig:
        with self._lock:
            key = self._stat_key()
            if key == self._key:
                return self._config
            self._key = key  # a broken edit is reported once, not on every question
            if key is None:
                log.error("channel config %s is gone; keeping the previous mapping", self.path)
                return self._config
            try:
                self._config = ChannelConfig.load(self.path)
                log.info("re-read channel config %s", self.path)
            except (OSError, ValueError) as exc:
                log.error("keeping the previous channel config: %s", exc)
            return self._config
