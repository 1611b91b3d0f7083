"""wait_until: polls until the condition holds, returns its value, and fails saying what and the last value."""

from __future__ import annotations

import itertools

import pytest

from tests.support.waiting import wait_until


def test_returns_the_first_truthy_value_after_polling() -> None:
    """The condition is polled until it holds, and what it returned then is handed back."""
    calls = itertools.count(1)
    found = wait_until(lambda: (n := next(calls)) >= 3 and f"call {n}", timeout=10, interval=0)
    assert found == "call 3"


def test_a_condition_that_holds_at_once_is_called_once() -> None:
    """A condition already true is not polled again, even with no time to spare."""
    calls = itertools.count(1)
    assert wait_until(lambda: next(calls), timeout=0) == 1
    assert next(calls) == 2


def test_timeout_fails_with_the_message_and_the_last_value() -> None:
    """A condition that never holds fails after the timeout, naming the wait and what it last saw."""
    calls = itertools.count(1)
    with pytest.raises(AssertionError) as failed:
        wait_until(lambda: [] if next(calls) else [], timeout=0.05, interval=0.01, message="the list never filled")
    assert "the list never filled" in str(failed.value) and "last value: []" in str(failed.value)
    assert next(calls) > 2  # it polled, and once more at the deadline
