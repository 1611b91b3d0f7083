"""Listed answers the server gave, reused for a short time (Safe Browsing's positive cache)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from risklist_client.result import CheckResult
from risklist_kernel.digest import KEY_SIZE

DEFAULT_MAX_ENTRIES = 100_000


class PositiveCache:
    """Listed CheckResults by storage key, each for at most `ttl` seconds.

    Only listed answers are kept, so the cache can never make a check say "not listed". An
    answer is dropped early when a filter update names its key (listed again with a change, or
    unlisted), when the filter is downloaded afresh, or once the verdict's own expiry passes.
    """

    def __init__(
        self, ttl: float, *, max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._entries: dict[bytes, tuple[CheckResult, float]] = {}

    def get(self, key: bytes) -> CheckResult | None:
        """The cached answer for `key` while it is valid, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        result, valid_until = entry
        if self._clock() >= valid_until or (result.expires_at and self._wall_clock() >= result.expires_at):
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
            return None
        return result

    def put(self, key: bytes, result: CheckResult, filter_version: Callable[[], int]) -> None:
        """Keep a listed server answer unless the filter has applied updates newer than it.

        Anything but a listed answer is ignored; the oldest entry goes when full. The version is
        read under the lock that forget() takes, so an answer is either refused here or dropped
        by the update that made it stale (the filter raises its version before it forgets).
        """
        if not result.listed or self._ttl <= 0:
            return
        cached = replace(result, answered_by="cache")
        with self._lock:
            if result.list_version < filter_version():
                return
            self._entries.pop(key, None)
            if len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (cached, self._clock() + self._ttl)

    def forget(self, keys: bytes) -> None:
        """Drop the answers for concatenated 17-byte storage keys (a filter update named them)."""
        if not keys or not self._entries:
            return
        with self._lock:
            for offset in range(0, len(keys), KEY_SIZE):
                self._entries.pop(keys[offset : offset + KEY_SIZE], None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
