"""A cluster node's position in the write log, kept in the store with the writes of the entry it names: after a
reopen, or a kill -9 at any moment, the store holds an entry's records exactly when its position covers it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from risklist_kernel.enums import Category, RiskLevel
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.store.risk_store import RiskStore

CONTRIBUTION = Contribution("bank-a", Category.TELECOM_FRAUD, RiskLevel.HIGH, 1_800_000_000, 1_900_000_000)


def _key(number: int) -> bytes:
    return bytes([3]) + number.to_bytes(16, "big")


def test_an_entrys_writes_carry_its_position_and_survive_a_reopen(tmp_path: Path, secret: NetworkSecret) -> None:
    path = tmp_path / "db"
    with RiskStore(path, create=True, secret_fingerprint=secret.fingerprint) as store:
        assert store.log_position == 0
        with store.log_entry(5):
            store.apply([Upsert(_key(1), CONTRIBUTION)], sync=True)
        assert store.log_position == 5
        with store.log_entry(6):
            pass  # an entry that wrote nothing (refused, or changing nothing): the position is written on leaving
        assert store.log_position == 6
    with RiskStore(path, secret_fingerprint=secret.fingerprint) as reopened:
        assert reopened.log_position == 6


def test_an_entry_ending_in_an_error_leaves_the_position_for_a_retry(store: RiskStore) -> None:
    with pytest.raises(OSError), store.log_entry(4):
        raise OSError(28, "No space left on device")
    assert store.log_position == 0


def test_entries_must_come_in_ascending_order(store: RiskStore) -> None:
    with store.log_entry(3):
        pass
    for stale in (3, 2):
        with pytest.raises(ValueError, match=f"log entry {stale} is at or before the store's position 3"), \
                store.log_entry(stale):
            pass


def test_another_threads_write_meanwhile_does_not_carry_the_position(store: RiskStore) -> None:
    """An expiry sweep or an ingest writing while the applier is inside an entry: their writes are theirs."""
    inside, release = threading.Event(), threading.Event()

    def applier() -> None:
        with store.log_entry(9):
            inside.set()
            release.wait(10)
            raise RuntimeError("the entry failed before writing")

    thread = threading.Thread(target=lambda: pytest.raises(RuntimeError, applier))
    thread.start()
    assert inside.wait(10)
    store.apply([Upsert(_key(2), CONTRIBUTION)])
    assert store.log_position == 0
    release.set()
    thread.join()


APPLY_FOR_EVER = """
import sys
from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.store.risk_store import RiskStore
contribution = Contribution("bank-a", Category.TELECOM_FRAUD, RiskLevel.HIGH, 1_800_000_000, 1_900_000_000)
store = RiskStore(sys.argv[1], secret_fingerprint=sys.argv[2])
sequence = store.log_position
while True:
    sequence += 1
    with store.log_entry(sequence):
        store.apply([Upsert(bytes([3]) + sequence.to_bytes(16, "big"), contribution)], sync=sequence % 2 == 0)
    if sequence == 50:
        print("started", flush=True)
"""


@pytest.mark.parametrize("after_s", [0.0, 0.05, 0.2])
def test_a_kill_9_leaves_records_and_position_in_step(tmp_path: Path, secret: NetworkSecret, after_s: float) -> None:
    path = tmp_path / "db"
    RiskStore(path, create=True, secret_fingerprint=secret.fingerprint).close()
    process = subprocess.Popen([sys.executable, "-c", APPLY_FOR_EVER, str(path), secret.fingerprint],
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    try:
        for line in process.stdout:  # the store's own log lines come first
            if line.strip() == "started":
                break
        else:
            raise AssertionError(f"the applying process ended first ({process.wait()})")
        time.sleep(after_s)  # a moment further into the loop each time: where the kill lands does not matter
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
    with RiskStore(path, secret_fingerprint=secret.fingerprint) as store:
        position = store.log_position
        assert position >= 50
        assert all(store.lookup(_key(number)) is not None for number in range(1, position + 1))
        assert store.lookup(_key(position + 1)) is None


def test_a_snapshot_sweep_cut_short_inside_an_entry_records_no_position(store: RiskStore,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep writes in chunks: had its first chunk carried the entry's position, a sweep cut short after it
    would never be finished after a restart (the entry counted as applied). The position comes once it is whole."""
    store.begin_snapshot("bank-a")
    store.apply([Upsert(_key(number), CONTRIBUTION) for number in range(3)], snapshot_source="bank-a")
    with store.log_entry(1):
        store.begin_snapshot("bank-a")  # a new snapshot that holds none of the three: all are swept
    chunks = 0
    sweep = type(store._snapshot_marks).sweep

    def failing_sweep(*args: object, **kwargs: object) -> object:
        nonlocal chunks
        chunks += 1
        if chunks == 2:
            raise OSError(28, "No space left on device")
        return sweep(*args, **kwargs)

    monkeypatch.setattr(type(store._snapshot_marks), "sweep", failing_sweep)
    with pytest.raises(OSError), store.log_entry(2):
        store.sweep_snapshot("bank-a", chunk=1)
    assert store.log_position == 1  # the first chunk's write did not carry entry 2's position
    monkeypatch.undo()
    with store.log_entry(2):  # applied again after the restart: sweeps the rest
        assert store.sweep_snapshot("bank-a", chunk=1) == 2
    assert store.log_position == 2


def test_a_write_applied_from_the_log_is_not_synced_but_any_other_still_is(store: RiskStore,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The log holds an applied entry durable on a quorum (an OS crash loses the write and its position together,
    and the node applies the entry again), so a node does not wait for its disk; a node alone still does."""
    real = store._db
    synced: list[bool] = []

    class Recording:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def write(self, batch: object, write_opt: object = None) -> None:
            synced.append(bool(getattr(write_opt, "sync", False)))
            real.write(batch) if write_opt is None else real.write(batch, write_opt)

    monkeypatch.setattr(store, "_db", Recording())
    with store.log_entry(1):
        store.apply([Upsert(_key(1), CONTRIBUTION)], sync=True)
    store.apply([Upsert(_key(2), CONTRIBUTION)], sync=True)
    assert synced == [False, True]
    assert store.log_position == 1 and store.lookup(_key(1)) is not None
