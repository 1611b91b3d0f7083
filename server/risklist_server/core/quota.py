"""Per-partner token buckets for requests and subjects per second; they answer at once, never sleep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from risklist_server.core.partners import Partner, Rate


@dataclass(frozen=True, slots=True)
class Refusal:
    """A quota said no: which one, its rate, and how long until the call would fit."""

    partner: str
    dimension: str  # "requests" or "subjects"
    per_second: float
    retry_after: float


class TokenBucket:
    """`per_second` tokens a second, at most `burst` saved.

    A take of more than `burst` (a batch larger than the burst) is allowed when the bucket is
    full and leaves it in debt, so it is slowed, never refused forever.
    """

    __slots__ = ("_rate", "_burst", "_tokens", "_stamp", "_lock", "_clock")

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate.per_second
        self._burst = rate.burst
        self._tokens = rate.burst
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self, amount: float) -> float:
        """Take `amount` tokens and return 0, or take none and return the seconds until they fit."""
        needed = min(amount, self._burst)
        with self._lock:
            now = self._clock()
            tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if tokens >= needed:
                self._tokens = tokens - amount
                return 0.0
            self._tokens = tokens
            return (needed - tokens) / self._rate

    def spend(self, amount: float) -> None:
        """Take `amount` tokens whatever is left: a cost known only once the work is done, which leaves the bucket
        in debt if it did not fit (later takes wait until the debt is paid)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate) - amount
            self._stamp = now


class PartnerQuota:
    """One partner's buckets in this process."""

    __slots__ = ("partner", "_requests", "_subjects")

    def __init__(self, partner: Partner, clock: Callable[[], float] = time.monotonic) -> None:
        self.partner = partner.id
        quota = partner.quota
        self._requests = None if quota.requests is None else (TokenBucket(quota.requests, clock), quota.requests)
        self._subjects = None if quota.subjects is None else (TokenBucket(quota.subjects, clock), quota.subjects)

    def take_request(self) -> Refusal | None:
        """Charge one call; a Refusal if the requests quota is spent."""
        return self._take(self._requests, "requests", 1)

    def take_subjects(self, count: int) -> Refusal | None:
        """Charge `count` looked-up subjects; a Refusal if the subjects quota is spent."""
        return self._take(self._subjects, "subjects", count)

    def spend_subjects(self, count: int) -> None:
        """Charge `count` subjects for work already done (risklist_server.core.subject_cost): never refused, the
        debt refuses the calls after it."""
        if self._subjects is not None and count > 0:
            self._subjects[0].spend(count)

    def _take(self, bucket: tuple[TokenBucket, Rate] | None, dimension: str, amount: int) -> Refusal | None:
        if bucket is None or amount <= 0:
            return None
        wait = bucket[0].take(amount)
        return None if wait == 0 else Refusal(self.partner, dimension, bucket[1].per_second, wait)
