"""The partner filter: snapshots of the Bloom front folded to the configured size, and deltas from the changelog.

The front and the partner filter share the rl1-blocked-bloom layout (risklist_kernel.bloom),
where a key's word is `bytes 1-8 & (word_count - 1)`. Halving the word count therefore maps word
i to word i & (half - 1): OR-ing the two halves together ("folding") yields exactly the filter
the same keys would have built at half the size. So a snapshot is a copy of the live front at a
known version, folded down to `bits_per_key` bits per key — no rescan of the store.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from risklist_kernel.bloom import expected_false_positive_rate, words_for
from risklist_kernel.digest import KEY_SIZE
from risklist_server.store.changelog import Change
from risklist_server.store.front import Front

KEYS_PER_UPDATE = (1 << 20) // KEY_SIZE
"""Added keys per FilterUpdate message: at most 1 MiB of keys."""

SNAPSHOT_MAX_AGE_SECONDS = 5.0
"""A snapshot this young is served again (clients catch up from its version by updates)."""

CATCH_UP_GRACE_SECONDS = 2.0
"""How long GetFilterUpdates waits for this worker to reach a client's newer version before reset."""


class FilterSource(Protocol):
    """What the partner filter needs of a store view (StoreReads: the writer's or a replica's)."""

    @property
    def version(self) -> int: ...

    @property
    def front(self) -> Front: ...

    @property
    def trimmed_through(self) -> int: ...

    def changes_since(self, sequence: int) -> Iterator[tuple[int, list[Change]]]: ...


@dataclass(frozen=True, slots=True)
class FilterSnapshot:
    """The filter of every key listed at `version` (and perhaps a few later ones), ready to send."""

    version: int
    word_count: int
    key_count: int
    false_positive_rate: float
    words: npt.NDArray[np.uint64]
    """Little-endian 64-bit words; `data` views them as bytes."""
    sha256: bytes
    secret_fingerprint: str = ""
    """The network secret the keys were digested under (its NetworkSecret.fingerprint)."""
    list_id: str = ""
    """Which list `version` counts (FilterExport's list_id)."""

    @property
    def data(self) -> memoryview:
        return self.words.data.cast("B")


@dataclass(frozen=True, slots=True)
class FilterDelta:
    """One FilterUpdate: keys listed after the previous message, up to `version`; or a reset."""

    version: int
    reset: bool = False
    added_keys: bytes = b""
    removed_count: int = 0
    removed_keys: bytes = b""
    """The unlisted keys themselves (at most max_removed in all, else the stream is a reset)."""


class FilterExport:
    """Builds partner filter snapshots and deltas from one store view; safe to share between RPC threads."""

    def __init__(
        self,
        source: FilterSource,
        *,
        bits_per_key: int,
        max_removed: int,
        snapshot_max_age: float = SNAPSHOT_MAX_AGE_SECONDS,
        catch_up_grace: float = CATCH_UP_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        secret_fingerprint: str = "",
        list_id: str = "",
        log_versions: bool = False,
    ) -> None:
        """`secret_fingerprint`: the fingerprint of the secret the source's keys were digested under; every
        snapshot and update names it, and clients refuse a filter that names another (or none).
        `list_id`: which list the source's versions count (a store's id): every snapshot and update names it,
        and a client whose filter names another list downloads the filter again rather than apply updates
        counted from another list's versions.
        `log_versions`: the source's versions are a replicated log's (a cluster node's): the same entries at the same
        version on every node. A client ahead of this view updated from a node further along; it gets one update at
        its own version that changes nothing (this node will reach that version with the same entries) instead of
        a reset, at once."""
        self._source = source
        self.secret_fingerprint = secret_fingerprint
        self.list_id = list_id
        self.bits_per_key = bits_per_key
        self.max_removed = max_removed
        self._snapshot_max_age = snapshot_max_age
        self._catch_up_grace = catch_up_grace
        self._log_versions = log_versions
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, FilterSnapshot] | None = None

    def snapshot(self) -> FilterSnapshot:
        """The current filter (a cached one if younger than snapshot_max_age); one build at a time."""
        with self._lock:
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._snapshot_max_age:
                return self._cached[1]
            built = self._build()
            self._cached = (now, built)
            return built

    def _build(self) -> FilterSnapshot:
        # Version first: every key of a write reaches the front before the write's sequence
        # becomes the view's version, so the words copied next hold every key listed at it.
        version = self._source.version
        front = self._source.front
        key_count = front.added
        live = front.words_view()
        word_count = min(front.word_count, words_for(key_count, self.bits_per_key))
        folds = front.word_count // word_count
        words = live.copy() if folds == 1 else np.bitwise_or.reduce(live.reshape(folds, word_count), axis=0)
        if sys.byteorder == "big":
            words = words.byteswap()
        words = np.ascontiguousarray(words)
        return FilterSnapshot(
            version=version,
            word_count=word_count,
            key_count=key_count,
            false_positive_rate=expected_false_positive_rate(word_count, key_count),
            secret_fingerprint=self.secret_fingerprint,
            list_id=self.list_id,
            words=words,
            sha256=hashlib.sha256(words.data.cast("B")).digest(),
        )

    @property
    def version(self) -> int:
        """The version this view's list covers now."""
        return self._source.version

    def updates(self, since_version: int) -> Iterator[FilterDelta]:
        """Deltas after `since_version` up to this view's version, in messages of ≤ 1 MiB of keys.

        Ends with a reset when the changelog no longer reaches back to `since_version` (it is below the
        changelog's low-water mark, read before the entries, or an entry is missing after it), when
        `since_version` is newer than this view even after the catch-up grace (another store, or
        one restored from a backup), or once more than max_removed keys were unlisted since. With
        `log_versions` (a cluster node), a `since_version` newer than this view gets one delta at it
        that changes nothing.
        Always yields at least one delta; the last one's version is what the client then covers.
        """
        if self._log_versions and since_version > self._source.version:
            yield FilterDelta(version=since_version)
            return
        target = self._wait_for(since_version)
        # The mark before the entries: a trim in between shows as a missing entry, also a reset.
        if since_version > target or since_version < self._source.trimmed_through:
            yield FilterDelta(version=target, reset=True)
            return
        pending: list[bytes] = []
        unlisted: list[bytes] = []
        covered = since_version
        removed = 0
        expected = since_version + 1
        for sequence, changes in self._source.changes_since(since_version):
            if sequence != expected:  # an entry the client needs is gone (trimmed meanwhile): never skip it
                yield FilterDelta(version=target, reset=True)
                return
            if sequence > target:
                break
            expected += 1
            for change in changes:
                if change.listed:
                    pending.append(change.key)
                    if len(pending) == KEYS_PER_UPDATE:
                        # Cut inside this entry: the message covers only the entries before it.
                        yield _delta(sequence - 1, pending, unlisted)
                        pending, unlisted = [], []
                else:
                    removed += 1
                    unlisted.append(change.key)
            if removed > self.max_removed:
                yield FilterDelta(version=target, reset=True)
                return
            covered = sequence
        yield _delta(covered, pending, unlisted)

    def _wait_for(self, version: int) -> int:
        """This view's version, after waiting up to the grace for it to reach `version`."""
        current = self._source.version
        deadline = self._clock() + self._catch_up_grace
        while current < version and self._clock() < deadline:
            time.sleep(0.01)
            current = self._source.version
        return current


def _delta(version: int, added: list[bytes], removed: list[bytes]) -> FilterDelta:
    return FilterDelta(version, added_keys=b"".join(added), removed_count=len(removed), removed_keys=b"".join(removed))

