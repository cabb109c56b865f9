"""How long a job may go on gathering documents: a point in time that a stop request brings forward.

A job gathers until its deadline (a share of its timeout, see worker/pipeline.py). When the worker is told
to stop (SIGTERM, SIGINT: ``STOP.request()`` in worker/queue_worker.py), every deadline comes forward to
``STOP_GRACE_S`` from then, so the jobs in hand finish promptly with what they have read. Sources check
the deadline between documents, and fetches cut a transfer off when it passes (http_fetch.py), so one
slow server cannot hold a job or a shutdown.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

STOP_GRACE_S = 5.0  # gathering time left to jobs in hand once the worker is asked to stop


class StopRequest:
    """A worker process's request to stop, seen by every job in flight."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._at: float | None = None

    def request(self) -> None:
        if self._at is None:
            self._at = time.monotonic()
        self._event.set()

    @property
    def requested_at(self) -> float | None:
        return self._at

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a stop request; True when one was made."""
        return self._event.wait(timeout)


STOP = StopRequest()  # this process's; requested when the worker is told to stop


@dataclass(frozen=True)
class Deadline:
    """``at`` (``time.monotonic()``), or ``STOP_GRACE_S`` after ``stop`` is requested, whichever is first."""

    at: float
    stop: StopRequest | None = field(default=STOP, compare=False)

    @classmethod
    def after(cls, seconds: float, stop: StopRequest | None = STOP) -> Deadline:
        return cls(time.monotonic() + seconds, stop)

    def when(self) -> float:
        stopped_at = self.stop.requested_at if self.stop is not None else None
        return self.at if stopped_at is None else min(self.at, stopped_at + STOP_GRACE_S)

    def remaining(self) -> float:
        """Seconds left (0 when it passed)."""
        return max(0.0, self.when() - time.monotonic())

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0

    @property
    def stopping(self) -> bool:
        """The worker is stopping (the deadline came forward, or will)."""
        return self.stop is not None and self.stop.requested_at is not None

    def cap(self, seconds: float) -> float:
        """``seconds``, or less when the deadline is nearer."""
        return min(seconds, self.remaining())
