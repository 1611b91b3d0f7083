"""A reader worker's front: the writer's published file, mapped and shared, plus this process's overlay.

The mapped words cover the changelog up to the file's sequence; keys listed after it (read
from the changelog at each catch-up) go into a small private overlay: a Bloom filter of the
same layout for the probes, and the keys themselves, packed, for the partner filter's words
and for growing the overlay. The writer re-publishes the file on a schedule, and the reader
then maps the new one with a fresh overlay. Without a usable file (missing, damaged, another
store's) the front answers "maybe" for every key: RocksDB answers, never the front's "no".
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from risklist_kernel.bloom import WORD_AND_MASK_INDEX, mask_table
from risklist_kernel.digest import KEY_SIZE
from risklist_server.core.errors import StoreError
from risklist_server.store.front import (
    DEFAULT_BITS_PER_KEY,
    BloomFront,
    front_words_for,
    probe_packed,
    tile_words,
)
from risklist_server.store.front_map import MappedFront

OVERLAY_CAPACITY = 65_536
"""Keys the overlay starts sized for (128 KiB at 16 bits per key); it doubles when it holds twice that."""

_LITTLE_ENDIAN = sys.byteorder == "little"


class SharedFront:
    """The mapped front (or none: every key a candidate) plus the keys listed since it was published."""

    __slots__ = ("base", "_overlay", "_keys", "_bits_per_key", "_masks")

    def __init__(self, base: MappedFront | None, bits_per_key: int = DEFAULT_BITS_PER_KEY) -> None:
        self.base = base
        self._bits_per_key = bits_per_key
        self._overlay = BloomFront.for_capacity(OVERLAY_CAPACITY, bits_per_key)
        self._keys = bytearray()
        self._masks = mask_table()

    @property
    def word_count(self) -> int:
        return 0 if self.base is None else len(self.base.words)

    @property
    def size_bytes(self) -> int:
        """The mapped words (shared with the other readers) and this process's overlay."""
        return self.word_count * 8 + self._overlay.size_bytes + len(self._keys)

    @property
    def added(self) -> int:
        return (0 if self.base is None else self.base.added) + len(self._keys) // KEY_SIZE

    @property
    def overlay_keys(self) -> int:
        """Keys added since the mapped file was published."""
        return len(self._keys) // KEY_SIZE

    def add(self, key: bytes) -> None:
        """Add a key listed after the mapped file (the catch-up thread only)."""
        if self._overlay.added >= 2 * self._overlay.word_count * 64 // self._bits_per_key:
            self._grow_overlay()
        self._overlay.add(key)
        self._keys += key

    def might_contain(self, key: bytes) -> bool:
        base = self.base
        if base is None:
            return True
        word: int
        mask_index: int
        word, mask_index = WORD_AND_MASK_INDEX(key)
        mask = self._masks[mask_index]
        index = word & (len(base.cells) - 1)
        present = (base.cells[index] if _LITTLE_ENDIAN else int(base.words[index])) & mask == mask
        return present or (bool(self._keys) and self._overlay.might_contain(key))

    def might_contain_many(self, keys: Sequence[bytes]) -> npt.NDArray[np.bool_]:
        return self.might_contain_packed(b"".join(keys))

    def might_contain_packed(self, packed: bytes) -> npt.NDArray[np.bool_]:
        base = self.base
        if base is None:
            return np.ones(len(packed) // KEY_SIZE, dtype=np.bool_)
        result = probe_packed(base.words, packed)
        if self._keys:
            result |= self._overlay.might_contain_packed(packed)
        return result

    def words_view(self) -> npt.NDArray[np.uint64]:
        """The mapped words with the overlay's keys added, as a new native-order array (for the partner filter)."""
        words = self._usable_base().words.astype(np.uint64, copy=True)
        self._add_overlay_keys(words)
        return words

    def published_words(self) -> npt.NDArray[np.uint64]:
        """The words to publish: the mapping itself when no key was added since it was published (no copy: a
        front of 512 MiB at 100M keys), else words_view()."""
        base = self._usable_base()
        return base.words if not self._keys else self.words_view()

    def fill(self, target: npt.NDArray[np.uint64]) -> None:
        """Set this front's bits in `target` in place, a front of as many or more words (a power-of-two multiple):
        the mapped words tiled (store.front.tile_words), then the overlay's keys; no copy of the words."""
        tile_words(self._usable_base().words, target)
        self._add_overlay_keys(target)

    def _usable_base(self) -> MappedFront:
        if self.base is None:
            raise StoreError("this reader has no usable Bloom front file, so it cannot build a partner filter; "
                             "retry (another worker may answer), or restart the writer so it publishes one")
        return self.base

    def _add_overlay_keys(self, words: npt.NDArray[np.uint64]) -> None:
        if self._keys:
            front_words_for(np.frombuffer(bytes(self._keys), dtype=np.uint8).reshape(-1, KEY_SIZE), words)

    def to_bytes(self) -> bytes:
        """The words with the overlay's keys added, little-endian (the file and wire form), as BloomFront.to_bytes."""
        return self.words_view().astype("<u8").tobytes()

    def _grow_overlay(self) -> None:
        keys = bytes(self._keys)
        grown = BloomFront(self._overlay.word_count * 2)
        grown.add_many(keys[start : start + KEY_SIZE] for start in range(0, len(keys), KEY_SIZE))
        self._overlay = grown
