"""The writer's changelog trim thread: it trims on its own, and a failure is logged once, then retried."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from risklist_server.core.mutation import Upsert
from risklist_server.services.changelog_trim import ChangelogTrimmer
from risklist_server.store.changelog_trim import ChangelogWindow
from risklist_server.store.risk_store import RiskStore
from tests.server.store.test_changelog_trim import CONTRIBUTION, key
from tests.support.waiting import wait_until

WINDOW = ChangelogWindow(max_entries=5, max_age=10**9)


def test_the_thread_keeps_the_changelog_to_its_window(store: RiskStore) -> None:
    """Started, the trimmer brings 30 entries down to the newest 5 within its interval, and stops on request."""
    for number in range(30):
        store.apply([Upsert(key(number), CONTRIBUTION)])
    trimmer = ChangelogTrimmer(store, WINDOW, interval=0.01)
    trimmer.start()
    try:
        wait_until(lambda: store.trimmed_through == 25, timeout=10)
    finally:
        trimmer.stop()
    assert [sequence for sequence, _ in store.changes_since(25)] == [26, 27, 28, 29, 30]


def test_a_failing_trim_is_logged_once_and_retried(tmp_path: Path) -> None:
    """On a closed store every tick fails: one changelog_trim_failed event, and the thread keeps going."""
    store = RiskStore(tmp_path / "db", create=True, secret_fingerprint="test")
    for number in range(10):
        store.apply([Upsert(key(number), CONTRIBUTION)])
    store.close()
    trimmer = ChangelogTrimmer(store, WINDOW, interval=0.01)
    with capture_logs() as logs:
        trimmer.start()
        try:
            wait_until(lambda: trimmer.failed_ticks >= 3, timeout=10)
        finally:
            trimmer.stop()
    assert [entry["event"] for entry in logs] == ["changelog_trim_failed"]
    assert "is closed" in logs[0]["error"]
