"""Which sources answer questions asked in which channel: a YAML file, re-read when it changes.

Format: a mapping from a channel id (``C0123ABCD``) or name (``payments-oncall`` or ``"#payments-oncall"``)
to a list of source names, plus a ``default`` entry for every other channel::

    default: [runbooks, thread_files, channel_files, bookmarks, pins, links]
    C0123ABCD: [runbooks, thread_files]          # by id (checked first)
    "#payments-oncall": [runbooks, thread_files, channel_files, pins]   # by name
    "#random": []                                # nothing: questions there get "no documents"

Source names: ``runbooks`` (the runbook folder), ``thread_files`` (files attached to the question or in
its thread), ``channel_files`` (recent uploads in the channel), ``bookmarks``, ``pins`` (pinned messages
and files), ``links`` (allowlisted pages linked in recent messages). Without ``default`` the default is
every source. An unknown source name or a malformed file is an error when the file is loaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

SOURCE_NAMES = ("runbooks", "thread_files", "channel_files", "bookmarks", "pins", "links")


@dataclass(frozen=True)
class ChannelSources:
    """The parsed mapping. ``by_channel`` keys are channel ids or names without ``#``."""

    default: tuple[str, ...] = SOURCE_NAMES
    by_channel: Mapping[str, tuple[str, ...]] | None = None

    @property
    def names_used(self) -> bool:
        """True when some key is a channel name, so a channel's name must be looked up."""
        return any(not _looks_like_channel_id(key) for key in (self.by_channel or {}))

    def sources_for(self, channel_id: str, channel_name: Callable[[str], str | None] | None = None) -> tuple[
            str, ...]:
        """The source names for ``channel_id``; ``channel_name(id)`` is asked only when names are used."""
        by_channel = self.by_channel or {}
        if channel_id in by_channel:
            return by_channel[channel_id]
        if self.names_used and channel_name is not None:
            name = channel_name(channel_id)
            if name and name.lstrip("#") in by_channel:
                return by_channel[name.lstrip("#")]
        return self.default

    @classmethod
    def parse(cls, data: Any, origin: str = "channel config") -> ChannelSources:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f"{origin}: expected a mapping of channel -> list of sources")
        default = cls.default
        by_channel: dict[str, tuple[str, ...]] = {}
        for key, value in data.items():
            names = _source_list(value, f"{origin}: {key}")
            if str(key) == "default":
                default = names
            else:
                by_channel[str(key).strip().lstrip("#")] = names
        return cls(default=default, by_channel=by_channel)

    @classmethod
    def load(cls, path: Path) -> ChannelSources:
        with path.open(encoding="utf-8") as handle:
            try:
                data = yaml.safe_load(handle)
            except yaml.YAMLError as exc:
                raise ValueError(f"{path}: not valid YAML: {exc}") from None
        return cls.parse(data, str(path))


def _looks_like_channel_id(key: str) -> bool:
    return len(key) >= 9 and key[0] in "CGD" and key.isalnum() and key.isupper()


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
        self._sources = ChannelSources.load(path)  # raises when missing or broken

    def _stat_key(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def current(self) -> ChannelSources:
        with self._lock:
            key = self._stat_key()
            if key == self._key:
                return self._sources
            self._key = key  # a broken edit is reported once, not on every question
            if key is None:
                log.error("channel config %s is gone; keeping the previous mapping", self.path)
                return self._sources
            try:
                self._sources = ChannelSources.load(self.path)
                log.info("re-read channel config %s", self.path)
            except (OSError, ValueError) as exc:
                log.error("keeping the previous channel config: %s", exc)
            return self._sources
