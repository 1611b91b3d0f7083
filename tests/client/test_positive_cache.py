"""The positive cache: listed server answers reused briefly, dropped as soon as an update names their key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from risklist_client import RiskListClient
from risklist_client.positive_cache import PositiveCache
from risklist_client.result import CheckResult, not_listed
from risklist_kernel.enums import Action
from risklist_kernel.secret import NetworkSecret
from tests.client.conftest import ingest_phones
from tests.support.running_server import ServerProcess
from tests.support.waiting import wait_until

PHONE = "+8613800138000"
KEYS = [bytes([3]) + bytes([n]) * 16 for n in range(6)]


def _listed(request_id: str = "r", expires_at: int = 0) -> CheckResult:
    return CheckResult(True, Action.REVIEW, "server", 7, request_id=request_id, expires_at=expires_at)


operations = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), st.booleans()),
    st.tuples(st.just("forget"), st.lists(st.sampled_from(KEYS), max_size=3), st.just(False)),
    st.tuples(st.just("tick"), st.floats(0, 6), st.just(False)),
    st.tuples(st.just("clear"), st.just(b""), st.just(False)),
), max_size=30)


@given(operations)
def test_the_cache_never_answers_not_listed_nor_after_forget_or_ttl(program: list[tuple[str, object, bool]]) -> None:
    """Against a model: only listed answers come back, and never once forgotten, cleared or older than the TTL."""
    now = [0.0]
    cache = PositiveCache(5.0, clock=lambda: now[0])
    model: dict[bytes, float] = {}  # key -> valid until
    for operation, argument, listed in program:
        if operation == "put":
            assert isinstance(argument, bytes)
            cache.put(argument, _listed() if listed else not_listed(7, "server"), lambda: 7)
            if listed:
                model[argument] = now[0] + 5.0
        elif operation == "forget":
            assert isinstance(argument, list)
            cache.forget(b"".join(argument))
            for key in argument:
                model.pop(key, None)
        elif operation == "tick":
            assert isinstance(argument, float)
            now[0] += argument
        else:
            cache.clear()
            model.clear()
        for key in KEYS:
            answer = cache.get(key)
            expected = key in model and now[0] < model[key]
            assert (answer is not None) == expected
            assert answer is None or (answer.listed and answer.answered_by == "cache")


def test_an_expired_verdict_is_not_reused_and_the_oldest_entry_goes_when_full() -> None:
    """A cached verdict whose own expiry passed is a miss; a full cache drops its oldest entry."""
    wall = [1000.0]
    cache = PositiveCache(60, max_entries=2, wall_clock=lambda: wall[0])
    cache.put(KEYS[0], _listed(expires_at=1001), lambda: 7)
    assert cache.get(KEYS[0]) is not None
    wall[0] = 1001.0
    assert cache.get(KEYS[0]) is None
    for key in KEYS[1:4]:
        cache.put(key, _listed(), lambda: 7)
    assert [cache.get(key) is not None for key in KEYS[1:4]] == [False, True, True]


def test_an_answer_older_than_the_filter_is_not_kept() -> None:
    """A listed answer from before an update the filter already applied (which may unlist it) is not cached."""
    cache = PositiveCache(60)
    cache.put(KEYS[0], _listed(), lambda: 8)  # the answer is at version 7
    cache.put(KEYS[1], _listed(), lambda: 7)
    assert cache.get(KEYS[0]) is None and cache.get(KEYS[1]) is not None


def test_a_repeated_hit_is_answered_from_the_cache_until_the_entry_is_removed(
    server: ServerProcess, secret: NetworkSecret
) -> None:
    """The second check of a listed subject is the cached answer; once unlisted, the next update makes it ask again."""
    ingest_phones(server.admin_address, secret, add=[PHONE])
    with RiskListClient(server.address, secret=secret, update_interval=0.2, positive_cache_seconds=600) as client:
        assert client.wait_for_filter(10)
        first = client.check("phone", PHONE)
        second = client.check("phone", PHONE)
        assert first.listed and first.answered_by == "server"
        assert second.listed and second.answered_by == "cache" and second.request_id == first.request_id
        assert client.metrics().answered_from_cache == 1
        removed_at = ingest_phones(server.admin_address, secret, remove=[PHONE])
        answer = wait_until(lambda: None if (a := client.check("phone", PHONE)).listed else a, timeout=5, interval=0.05,
                            message="the removal never reached the cached answer")
        assert answer.answered_by == "server" and answer.list_version >= removed_at
