"""KeyIndex: which storage keys a watchlist might hold, in 8 bytes per watched subject.

A storage key is 17 bytes (entity-type byte + 16-byte keyed digest). The index keeps only each
key's first 8 bytes, as a big-endian unsigned integer, in one sorted `array('Q')`: 8 bytes per
subject, against ~100 for a Python set of 17-byte `bytes` (33 for the set's slots, 50 for each
object), and no numpy (the SDK never needs it). A probe is a binary search (~3 µs at 10M).

It answers "might hold": two keys sharing their first 8 bytes (the type byte and 56 bits of a
keyed digest: ~10M²/2⁵⁷ ≈ 7·10⁻⁴ such pairs in a 10M watchlist) are one entry, and removed keys
stay until the next rebuild. Whoever asks confirms a "yes" against the watchlist's state, so the
index may over-answer but never under-answer: every key added is found until it is removed and
the index rebuilt.

Keys added after a build go to a small overlay set; the owner rebuilds (from the state, in key
order, without a sort) once the overlay grows past a share of the base.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable

PREFIX_BYTES = 8


def prefix_of(key: bytes) -> int:
    """A key's index entry: its first 8 bytes as a big-endian integer (so sorted keys give sorted entries)."""
    return int.from_bytes(key[:PREFIX_BYTES], "big")


class KeyIndex:
    """A sorted array of key prefixes plus an overlay of later additions; not thread-safe (one owner)."""

    __slots__ = ("_base", "_overlay")

    def __init__(self, sorted_keys: Iterable[bytes] = ()) -> None:
        """`sorted_keys` in ascending byte order (SQLite's order for a BLOB primary key); ValueError otherwise."""
        self._base: array[int] = array("Q")
        self._overlay: set[int] = set()
        self.rebuild(sorted_keys)

    def rebuild(self, sorted_keys: Iterable[bytes]) -> None:
        """Replace the contents with `sorted_keys` (ascending), streamed: memory is the array, never a list."""
        base: array[int] = array("Q")
        last = -1
        for key in sorted_keys:
            entry = prefix_of(key)
            if entry < last:
                raise ValueError("KeyIndex.rebuild needs keys in ascending byte order")
            if entry != last:
                base.append(entry)
                last = entry
        self._base = base
        self._overlay = set()

    def add(self, key: bytes) -> None:
        """Make `key` findable (overlay, until the next rebuild folds it into the array)."""
        entry = prefix_of(key)
        if not self._in_base(entry):
            self._overlay.add(entry)

    def might_hold(self, key: bytes) -> bool:
        """False: `key` is certainly not watched. True: it may be (confirm against the state)."""
        entry = prefix_of(key)
        return entry in self._overlay or self._in_base(entry)

    def among(self, keys: bytes, key_size: int) -> list[bytes]:
        """The keys of the concatenation `keys` (each `key_size` bytes) this index might hold, in order."""
        found: list[bytes] = []
        base, overlay = self._base, self._overlay
        size = len(base)
        left = bisect.bisect_left
        for offset in range(0, len(keys), key_size):
            entry = int.from_bytes(keys[offset : offset + PREFIX_BYTES], "big")
            if entry in overlay:
                found.append(keys[offset : offset + key_size])
                continue
            position = left(base, entry)
            if position < size and base[position] == entry:
                found.append(keys[offset : offset + key_size])
        return found

    @property
    def overlay_size(self) -> int:
        return len(self._overlay)

    def __len__(self) -> int:
        """Entries held (distinct prefixes, removed ones until a rebuild)."""
        return len(self._base) + len(self._overlay)

    @property
    def size_bytes(self) -> int:
        """Memory the entries take: 8 bytes each in the array, ~70 each in the overlay (set slot + int object)."""
        return self._base.itemsize * len(self._base) + 70 * len(self._overlay)

    def _in_base(self, entry: int) -> bool:
        base = self._base
        position = bisect.bisect_left(base, entry)
        return position < len(base) and base[position] == entry
