"""The request-wait watchdog's decisions: which slow calls end, with what, and which are kept (no threads, no
clock: `due` is given the time)."""

from __future__ import annotations

import threading

import grpc
import pytest

from risklist_server.rpc import request_waits
from risklist_server.rpc.request_waits import GRACE_SECONDS, SUSPECT_SECONDS, TICK_SECONDS, RequestWaits
from tests.support.waiting import wait_until


class _Context:
    """A call's context as far as the watchdog asks: whose it is."""

    def __init__(self, partner: str) -> None:
        self.partner = partner


def _waits(per_member: int = 2, total: int = 4, limit: float = 10.0) -> RequestWaits:
    waits = RequestWaits(lambda context: context.partner, per_member=per_member, total=total, limit_seconds=limit)
    waits._watchdog = object()  # type: ignore[assignment]  # decisions only: no watchdog thread
    return waits


def _begin(waits: RequestWaits, partner: str, since: float) -> object:
    call = waits.begin(_Context(partner), "Check")  # type: ignore[arg-type]
    call.since = since
    return call


def test_calls_within_the_grace_are_never_ended() -> None:
    """However many calls a member has waiting, none is ended before it has waited GRACE_SECONDS."""
    waits = _waits(per_member=1, total=1)
    for _ in range(10):
        _begin(waits, "hog", since=100.0)
    assert waits.due(100.0 + GRACE_SECONDS * 0.9) == []
    assert waits.waiting_count() == 10


def test_a_member_keeps_its_oldest_slow_calls_and_the_rest_end_resource_exhausted() -> None:
    """Past the grace, a member keeps per_member calls (its oldest); the others end RESOURCE_EXHAUSTED naming
    the setting, and leave the count (end() then tells their handler it was taken)."""
    waits = _waits(per_member=2, total=10)
    calls = [_begin(waits, "hog", since=100.0 + index * 0.01) for index in range(5)]
    endings = waits.due(100.0 + GRACE_SECONDS + 1)
    assert [ending.call for ending in endings] == calls[2:]
    assert {ending.code for ending in endings} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert all("max_slow_requests_per_member" in ending.message and ending.partner == "hog" for ending in endings)
    assert [call.ended for call in calls] == [None, None, "RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED",
                                              "RESOURCE_EXHAUSTED"]
    assert waits.waiting_count() == 2
    assert [waits.end(call) for call in calls] == [True, True, False, False, False]  # type: ignore[arg-type]


def test_one_members_slow_calls_do_not_count_against_another() -> None:
    """Shares are per member: another member's slow calls within its own share are kept."""
    waits = _waits(per_member=1, total=10)
    _begin(waits, "hog", 100.0)
    _begin(waits, "hog", 100.1)
    other = _begin(waits, "other", 100.2)
    endings = waits.due(100.0 + GRACE_SECONDS + 1)
    assert [ending.partner for ending in endings] == ["hog"]
    assert other.ended is None  # type: ignore[attr-defined]


def test_the_worker_keeps_at_most_total_slow_calls() -> None:
    """Past `total` slow calls in all (each member within its share), the newest end RESOURCE_EXHAUSTED saying
    the worker's share is taken."""
    waits = _waits(per_member=2, total=3)
    for index, partner in enumerate(("a", "b", "c", "d")):
        _begin(waits, partner, 100.0 + index * 0.01)
    endings = waits.due(100.0 + GRACE_SECONDS + 1)
    assert [(ending.partner, ending.reason) for ending in endings] == [("d", "worker's share")]
    assert "this server worker already waits" in endings[0].message


def test_no_call_waits_longer_than_the_limit() -> None:
    """A kept call that has waited limit_seconds ends CANCELLED naming request_wait_seconds."""
    waits = _waits(per_member=1, total=1, limit=GRACE_SECONDS + 2)
    kept = _begin(waits, "hog", 100.0)
    assert waits.due(100.0 + GRACE_SECONDS + 1.9) == []
    endings = waits.due(100.0 + GRACE_SECONDS + 2)
    assert [(ending.call, ending.code, ending.reason) for ending in endings] == [
        (kept, grpc.StatusCode.CANCELLED, "waited too long")]
    assert "request_wait_seconds" in endings[0].message


def test_a_call_whose_message_came_first_is_not_ended() -> None:
    """A call its handler stopped counting (its message came) is never ended, even past every share."""
    waits = _waits(per_member=1, total=1, limit=GRACE_SECONDS + 1)
    calls = [_begin(waits, "hog", 100.0), _begin(waits, "hog", 100.1)]
    assert waits.end(calls[1]) is True  # type: ignore[arg-type]
    assert [ending.call for ending in waits.due(100.0 + GRACE_SECONDS + 0.5)] == []
    assert [ending.call for ending in waits.due(100.0 + GRACE_SECONDS + 1)] == [calls[0]]


def test_a_member_that_had_its_share_of_slow_calls_gets_no_grace_for_a_while() -> None:
    """Once a member keeps its share of slow calls, its other calls are slow as soon as they have waited one tick,
    not GRACE_SECONDS, for SUSPECT_SECONDS; a call just begun, and another member's young calls, are left alone."""
    waits = _waits(per_member=1, total=10)
    now = 100.0 + GRACE_SECONDS + 1.0
    share = _begin(waits, "hog", 100.0)
    assert waits.due(now) == []  # kept: the member's share
    young = _begin(waits, "hog", now - TICK_SECONDS * 1.5)
    just_begun = _begin(waits, "hog", now - TICK_SECONDS / 2)
    others = _begin(waits, "other", now - TICK_SECONDS * 1.5)
    endings = waits.due(now)
    assert [(ending.call, ending.code, ending.reason) for ending in endings] == [
        (young, grpc.StatusCode.RESOURCE_EXHAUSTED, "member's share")]
    assert just_begun.ended is None and others.ended is None  # type: ignore[attr-defined]
    # The share's message comes; a minute later the member has its grace back.
    assert waits.end(share) is True  # type: ignore[arg-type]
    later = now + SUSPECT_SECONDS + 1
    assert waits.end(just_begun) is True and waits.end(others) is True  # type: ignore[arg-type]
    after = _begin(waits, "hog", later - TICK_SECONDS * 1.5)
    second = _begin(waits, "hog", later - TICK_SECONDS * 1.5)
    assert waits.due(later) == []
    assert after.ended is None and second.ended is None  # type: ignore[attr-defined]


class _Cancellable(_Context):
    """A context the watchdog can end: it records cancel(); `broken` ones fail as the watchdog ends them."""

    def __init__(self, partner: str, *, broken: bool = False) -> None:
        super().__init__(partner)
        self.broken = broken
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        if self.broken:
            raise RuntimeError("a call that cannot be ended")
        self.cancelled.set()


def test_the_watchdog_outlives_a_round_that_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call the watchdog cannot end fails that round only: later slow calls are still ended."""
    monkeypatch.setattr(request_waits, "GRACE_SECONDS", 0.05)
    waits = RequestWaits(lambda context: context.partner, per_member=1, total=1, limit_seconds=0.1)
    waits.begin(_Cancellable("hog", broken=True), "Check")  # type: ignore[arg-type]
    wait_until(lambda: waits.waiting_count() == 0, timeout=10, message="the broken call was never taken")
    good = _Cancellable("hog")
    waits.begin(good, "Check")  # type: ignore[arg-type]
    assert good.cancelled.wait(10), "the watchdog stopped after a failed round"


def test_a_call_the_watchdog_cannot_end_spares_none_of_the_others_of_its_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls taken in the same round as one whose ending fails are ended all the same (taken from the count,
    they would otherwise wait unwatched)."""
    monkeypatch.setattr(request_waits, "GRACE_SECONDS", 0.05)
    waits = RequestWaits(lambda context: context.partner, per_member=1, total=10, limit_seconds=60)
    waits._watchdog = object()  # type: ignore[assignment]  # started below, once every call waits
    kept = _Cancellable("hog")
    waits.begin(kept, "Check")  # type: ignore[arg-type]
    waits.begin(_Cancellable("hog", broken=True), "Check")  # type: ignore[arg-type]
    after = _Cancellable("hog")
    waits.begin(after, "Check")  # type: ignore[arg-type]
    waits._watchdog = None
    waits._start_watchdog()
    assert after.cancelled.wait(10), "a call after the broken one in its round was never ended"
    assert not kept.cancelled.is_set()
