"""A cluster node's clock against the NATS servers': measured on a real nats-server, and what the node does when
they disagree (NOT_SERVING, and it does not drive the expiry sweep)."""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from risklist_server.cluster import write_log
from risklist_server.cluster.clock_watch import ClockWatch
from risklist_server.cluster.expiry_log import LoggedPurge
from risklist_server.cluster.write_log import LogSettings, WriteLog
from risklist_server.store.expiry_purge import ExpirySlice
from tools.local_nats import NatsCluster

SETTINGS = LogSettings(replicas=1, max_bytes=64 * 2**20)



class _ShiftedTime:
    """The `time` module write_log sees, its clock `shift` seconds off."""

    def __init__(self, shift: float) -> None:
        self._shift = shift

    def time(self) -> float:
        return time.time() + self._shift


def test_the_offset_from_the_nats_servers_clock_is_measured(one_nats_server: NatsCluster,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with WriteLog(one_nats_server.urls, SETTINGS).open() as log:
        offset, uncertainty = log.clock_offset("n1")
        assert abs(offset) < 1.0 and 0 <= uncertainty < 1.0  # the same machine's clock
        monkeypatch.setattr(write_log, "time", _ShiftedTime(3600.0))
        ahead, _ = log.clock_offset("n1")
        monkeypatch.setattr(write_log, "time", _ShiftedTime(-600.0))
        behind, _ = log.clock_offset("n1")
    assert 3599 < ahead < 3601 and -601 < behind < -599


class _Measure:
    def __init__(self) -> None:
        self.offset = (0.001, 0.0005)

    def __call__(self) -> tuple[float, float]:
        return self.offset


def test_a_clock_off_by_more_than_the_limit_is_a_problem_until_it_agrees_again() -> None:
    measure = _Measure()
    watch = ClockWatch(measure, max_offset_s=60)
    with capture_logs() as logs:
        watch.check()
        assert watch.problem is None
        measure.offset = (61.5, 2.0)  # perhaps only 59.5 s off: not enough to stop serving
        watch.check()
        assert watch.problem is None
        measure.offset = (7200.0, 0.01)
        watch.check()
        assert watch.problem is not None and "7200 s ahead of the NATS servers'" in watch.problem
        measure.offset = (-7200.0, 0.01)
        watch.check()
        assert watch.problem is not None and "behind" in watch.problem
        measure.offset = (0.2, 0.01)
        watch.check()
        assert watch.problem is None
    assert [line["event"] for line in logs] == ["clock_off", "clock_agrees"]  # once per episode


class _Lease:
    def __init__(self) -> None:
        self.asked = 0

    def hold_lease(self, name: str, holder: str) -> bool:
        self.asked += 1
        return True


class _Store:
    def find_expired(self, start: bytes | None, limit: int, now: int) -> ExpirySlice:
        raise AssertionError("a node whose clock is off must not look for expired records")


def test_a_node_whose_clock_is_off_does_not_drive_the_expiry_sweep() -> None:
    lease = _Lease()
    problem: list[str | None] = ["the clock is off"]
    purge = LoggedPurge(_Store(), writes=None, lease=lease, node_id="n1",  # type: ignore[arg-type]
                        clock_problem=lambda: problem[0])
    assert purge(None, 100, int(time.time())) == ExpirySlice(0, 0, None)
    assert lease.asked == 0  # neither takes nor renews the lease: a node whose clock is right drives the sweep
