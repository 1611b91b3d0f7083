"""The checkpoint publisher keeps its lease for the whole of a round, however long (a large store's upload takes
far longer than the lease lives), and purges cut-off uploads before it publishes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from risklist_server.cluster.checkpoint_bucket import CheckpointInfo
from risklist_server.cluster.checkpoint_publisher import LEASE, CheckpointPublisher, CheckpointSource
from risklist_server.cluster.write_log import LogUnavailable
from tests.support.waiting import wait_until


class _Leases:
    def __init__(self, *, lost_after: int | None = None, unavailable: int = 0) -> None:
        self.renewals = 0
        self._lost_after = lost_after
        self._unavailable = unavailable
        self.changed = threading.Condition()

    def hold_lease(self, name: str, holder: str) -> bool:
        assert (name, holder) == (LEASE, "n1")
        with self.changed:
            self.renewals += 1
            self.changed.notify_all()
            if 1 < self.renewals <= 1 + self._unavailable:  # the renewals right after the first hold
                raise LogUnavailable("no quorum")
            return self._lost_after is None or self.renewals <= self._lost_after


class _RoundEnds(Exception):
    """Raised by the fake bucket to end the round before the backup (the keeper's life is what is tested)."""


class _Bucket:
    """Blocks the round in purge_orphans until the lease was asked for `renewals` times in all, then ends it."""

    def __init__(self, leases: _Leases, renewals: int) -> None:
        self._leases = leases
        self._renewals = renewals

    def latest(self) -> CheckpointInfo | None:
        return None

    def purge_orphans(self) -> int:
        with self._leases.changed:
            assert self._leases.changed.wait_for(lambda: self._leases.renewals >= self._renewals, timeout=30)
        raise _RoundEnds()


class _Store:
    log_position = 5


def _publisher(leases: _Leases, bucket: _Bucket, tmp_path: Path) -> CheckpointPublisher:
    store: CheckpointSource = _Store()  # type: ignore[assignment]
    return CheckpointPublisher(store, leases, bucket, node_id="n1", interval_s=3600,  # type: ignore[arg-type]
                               work_dir=tmp_path / "work", renew_s=0.01)


def test_the_lease_is_renewed_all_through_a_round_and_no_longer_after(tmp_path: Path) -> None:
    leases = _Leases(unavailable=2)  # two renewals without a quorum do not stop the keeper
    with pytest.raises(_RoundEnds):
        _publisher(leases, _Bucket(leases, renewals=7), tmp_path).publish_once()
    after_round = leases.renewals
    assert after_round >= 7
    with pytest.raises(AssertionError):  # nothing renews it once the round is over
        wait_until(lambda: leases.renewals > after_round, timeout=0.3, interval=0.01)


def test_a_lost_lease_stops_the_renewals(tmp_path: Path) -> None:
    leases = _Leases(lost_after=3)
    publisher = _publisher(leases, _Bucket(leases, renewals=4), tmp_path)
    with pytest.raises(_RoundEnds):
        publisher.publish_once()
    with pytest.raises(AssertionError):  # the keeper stopped at the renewal that found the lease taken
        wait_until(lambda: leases.renewals > 4, timeout=0.3, interval=0.01)
