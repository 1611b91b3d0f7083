"""Token buckets: bursts, refill, retry delays, batches larger than the burst."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risklist_server.core.partners import Partner, Quota, Rate, Role
from risklist_server.core.quota import PartnerQuota, TokenBucket
from risklist_server.core.subject_cost import normalising_overrun


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_retry_delay_is_exact() -> None:
    """Burst 3 at 2/s: three takes pass, the fourth waits 0.5 s, and passes once that time has gone by."""
    clock = Clock()
    bucket = TokenBucket(Rate(2, 3), clock)
    assert [bucket.take(1) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(1) == 0.5
    clock.now += 0.5
    assert bucket.take(1) == 0


def test_a_take_larger_than_the_burst_passes_from_a_full_bucket_and_leaves_debt() -> None:
    """A batch bigger than the burst is slowed, never refused forever: it waits for a full bucket, then owes."""
    clock = Clock()
    bucket = TokenBucket(Rate(10, 10), clock)
    assert bucket.take(25) == 0  # full bucket: allowed, 15 owed
    assert bucket.take(1) == 1.6  # 16 tokens short at 10/s
    clock.now += 2.5
    assert bucket.take(25) == 0


def test_a_cost_spent_after_the_work_leaves_debt_that_later_takes_wait_for() -> None:
    """spend() never refuses (the work is done): from 4 tokens, spending 24 owes 20, which at 10/s delays the next
    take by 2.1 s; time refills it as it would any debt."""
    clock = Clock()
    bucket = TokenBucket(Rate(10, 10), clock)
    assert bucket.take(6) == 0
    bucket.spend(24)
    assert bucket.take(1) == pytest.approx(2.1)
    clock.now += 2.2
    assert bucket.take(1) == 0


def test_normalising_is_charged_only_beyond_what_raw_values_cost_up_front() -> None:
    """Raw values cost 8 each up front (16 us of CPU at 2 us a subject) and digests 1, a call with raw values at
    least 50 (100 us); only CPU beyond that is owed, at 2 us a subject; a call of digests alone owes nothing."""
    assert normalising_overrun(0, 10, 160e-6) == 0  # 16 us each: a plain raw value
    assert normalising_overrun(0, 20, 322e-6) == 1
    assert normalising_overrun(0, 1, 100e-6) == 0  # a cold first call
    assert normalising_overrun(0, 1, 1e-3) == 500 - 50  # a 1 ms value costs 500 subjects in all
    assert normalising_overrun(100, 10, 362e-6) == 1  # the digests' own charge covers their share
    assert normalising_overrun(1_000, 0, 5e-3) == 0
    assert normalising_overrun(0, 0, 0.0) == 0


def test_partner_quota_refusals_say_which_quota() -> None:
    """A refusal names the partner, the dimension and its rate; an unlimited dimension never refuses."""
    quota = PartnerQuota(Partner("bank-a", frozenset({Role.QUERY}), Quota(subjects=Rate(5, 5))), Clock())
    assert all(quota.take_request() is None for _ in range(1000))
    assert quota.take_subjects(5) is None
    refusal = quota.take_subjects(1)
    assert refusal is not None and (refusal.partner, refusal.dimension, refusal.per_second) == ("bank-a", "subjects", 5)
    assert refusal.retry_after == 0.2


@given(rate=st.floats(0.5, 1000), burst=st.floats(1, 1000),
       steps=st.lists(st.tuples(st.floats(0, 2), st.integers(1, 50)), max_size=60))
def test_never_more_than_burst_plus_rate_times_elapsed(rate: float, burst: float,
                                                      steps: list[tuple[float, int]]) -> None:
    """Over any sequence of takes, what passed never exceeds the burst (plus one over-sized take) and the refill."""
    clock = Clock()
    bucket = TokenBucket(Rate(rate, burst), clock)
    passed, elapsed, largest = 0, 0.0, 0
    for wait, amount in steps:
        clock.now += wait
        elapsed += wait
        if bucket.take(amount) == 0:
            passed += amount
            largest = max(largest, amount)
    assert passed <= burst + rate * elapsed + max(0, largest - burst) + 1e-6
