"""The poller behind the policy and access watchers: it calls on, logs a failing round, and stops when asked."""

from __future__ import annotations

import threading

from structlog.testing import capture_logs

from risklist_server.services.poller import Poller
from tests.support.waiting import wait_until


def test_a_failing_round_is_logged_and_the_next_rounds_still_come() -> None:
    """A poll that raises is logged with the watcher's event and fields; polling goes on until stop()."""
    calls: list[int] = []
    done = threading.Event()

    def poll() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk went away")
        if len(calls) >= 3:
            done.set()

    poller = Poller(poll, seconds=0.01, name="test-watch", failure_event="test_watch_failed", path="x.toml")
    with capture_logs() as logs:
        poller.start()
        wait_until(done.is_set, timeout=10, message="the poller stopped calling after a failure")
        poller.stop()
    assert {"event": "test_watch_failed", "error": "disk went away", "path": "x.toml", "log_level": "error"} in logs
    assert not any(thread.name == "test-watch" for thread in threading.enumerate())


def test_once_per_outage_logs_the_first_failure_of_each_run_and_counts_every_one() -> None:
    """A background job failing round after round says so once per run of failures, and again after a
    recovery; failed_rounds counts each failed round (the trim and the expiry sweep log this way)."""
    outcomes = [OSError("full"), OSError("full"), OSError("full"), None, OSError("again")]
    done = threading.Event()

    def poll() -> None:
        if not outcomes:
            done.set()
            return
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    poller = Poller(poll, seconds=0.01, name="test-job", failure_event="test_job_failed", once_per_outage=True)
    with capture_logs() as logs:
        poller.start()
        wait_until(done.is_set, timeout=10, message="the poller stopped calling after a failure")
        poller.stop()
    assert [entry["error"] for entry in logs if entry["event"] == "test_job_failed"] == ["full", "again"]
    assert poller.failed_rounds == 4
