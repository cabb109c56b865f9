"""Reading settings from environment variables: unset or blank means the default, and a value that does
not parse is a ``SettingsError`` naming the variable. The bot's and the worker's settings objects share it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar, overload

T = TypeVar("T", int, float)
_BYTE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class SettingsError(ValueError):
    """A setting is missing, malformed or out of range; the message names the variable."""


class Env:
    """Typed reads of one environment mapping (``os.environ`` in production, a dict in tests)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    @overload
    def text(self, name: str) -> str | None: ...

    @overload
    def text(self, name: str, default: str) -> str: ...

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or default

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        return Path(value).expanduser() if value else None

    def number(self, name: str, default: T, *, minimum: T | None = None) -> T:
        """An ``int`` or ``float`` (as the default is); ``_`` separators are allowed (``200_000``)."""
        value = self.text(name)
        if value is None:
            return default
        kind = type(default)
        try:
            parsed = kind(value.replace("_", ""))
        except ValueError:
            raise SettingsError(f"{name}={value!r} is not a{'n' if kind is int else ''} "
                                f"{'integer' if kind is int else 'number'}") from None
        if minimum is not None and parsed < minimum:
            raise SettingsError(f"{name}={value!r} must be at least {minimum}")
        return parsed

    def size(self, name: str, default: int) -> int:
        """Bytes: a plain number, or with a binary unit: ``512K``, ``4G``, ``1.5GiB``."""
        value = self.text(name)
        if value is None:
            return default
        number = value.upper().removesuffix("B").removesuffix("I")
        scale = _BYTE_UNITS.get(number[-1:], 1)
        if scale > 1:
            number = number[:-1]
        try:
            parsed = int(float(number.replace("_", "")) * scale)
        except ValueError:
            raise SettingsError(f"{name}={value!r} is not a size in bytes (e.g. 4G, 512M)") from None
        if parsed < 1:
            raise SettingsError(f"{name}={value!r} must be at least one byte")
        return parsed

    def log_level(self, name: str = "LOG_LEVEL", default: str = "INFO") -> str:
        value = (self.text(name) or default).upper()
        if not isinstance(logging.getLevelName(value), int):
            raise SettingsError(f"{name}={value!r} is not a log level (DEBUG, INFO, WARNING, ERROR)")
        return value
