"""Riding out a Redis that cannot be reached for a while (a restart, a failover, a network blip): the step
is tried again, with backoff, until Redis answers or the caller gives up. Both processes use it."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

# Redis did not answer (refused, reset, timed out, still loading its data after a restart). Other errors
# (a wrong command, a failed WATCH) are answers, and are raised at once.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


def until_redis_answers(step: Callable[[], T], *, what: str, give_up: Callable[[], bool] = lambda: False,
                        logger: logging.Logger | None = None, first_wait_s: float = 0.1,
                        max_wait_s: float = 1.0) -> T:
    """``step()``, tried again while Redis is unreachable, waiting ``first_wait_s`` and then twice as long
    each time up to ``max_wait_s`` (with jitter); the last error is raised once ``give_up()`` is true.
    Only for steps that may run twice: a step whose reply was lost may have been done."""
    log = logger or logging.getLogger(__name__)
    wait = first_wait_s
    failures = 0
    while True:
        try:
            result = step()
        except UNREACHABLE as error:
            if give_up():
                log.error("Redis unreachable while %s (%s): giving up", what, error)
                raise
            failures += 1
            if failures == 1:
                log.warning("Redis unreachable while %s (%s): trying again until it answers", what, error)
            time.sleep(wait * random.uniform(0.5, 1.0))
            wait = min(max_wait_s, wait * 2)
            continue
        if failures:
            log.info("Redis answers again: %s done after %d retries", what, failures)
        return result
