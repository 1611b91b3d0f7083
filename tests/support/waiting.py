"""Polling until a condition holds: one helper instead of a hand-written deadline loop per test."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, timeout: float, interval: float = 0.01,
               message: str = "the condition did not hold") -> T:
    """Call `condition` every `interval` seconds until it returns something truthy, and return that.

    It is always called at least once, and once more after `timeout` has passed before giving up, so a
    slow machine never fails a condition that holds by then. On timeout: AssertionError with `message`
    and the last value the condition returned.
    """
    deadline = time.monotonic() + timeout
    while True:
        last_call = time.monotonic() >= deadline
        value = condition()
        if value:
            return value
        if last_call:
            raise AssertionError(f"{message} (within {timeout} s; last value: {value!r})")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
