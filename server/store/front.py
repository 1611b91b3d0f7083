"""The Bloom front: a register-blocked Bloom filter over storage keys, vectorised with numpy.

Keys are keyed BLAKE2b digests, so their bytes are already uniformly random: bytes 1-8 pick
a 64-bit word and bytes 9-10 pick one of 65,536 precomputed masks of K bits. A lookup is one
word test (`word & mask == mask`), in pure Python for one key and in numpy for a batch. It may
answer "maybe" for an absent key, never "no" for a present one.
"""

from __future__ import annotations

import hashlib
import struct
from array import array
from collections.abc import Sequence
from functools import cache

import numpy as np
import numpy.typing as npt

from server.core.digest import KEY_SIZE

BITS_PER_MASK = 8
"""K: bits set per key, all within one 64-bit word."""

MASK_INDEX_BITS = 16
DEFAULT_BITS_PER_KEY = 16
MIN_WORDS = 1024

_WORD_AND_MASK_INDEX = struct.Struct("<xQH").unpack_from
"""Bytes 1-8 (word selector) and 9-10 (mask index) of a storage key, in one call."""


@cache
def mask_table() -> tuple[int, ...]:
    """65,536 masks of BITS_PER_MASK distinct bits, derived from BLAKE2b (stable everywhere)."""
    masks = []
    for index in range(1 << MASK_INDEX_BITS):
        seed = hashlib.blake2b(index.to_bytes(4, "little"), digest_size=32, person=b"rl1:front").digest()
        bits: set[int] = set()
        position = 0
        while len(bits) < BITS_PER_MASK:
            bits.add(seed[position] & 63)
            position += 1
        masks.append(sum(1 << bit for bit in bits))
    return tuple(masks)


@cache
def _mask_array() -> npt.NDArray[np.uint64]:
    return np.array(mask_table(), dtype=np.uint64)


def words_for(capacity: int, bits_per_key: int = DEFAULT_BITS_PER_KEY) -> int:
    """Word count (a power of two, at least MIN_WORDS) giving ≥ bits_per_key bits per key."""
    wanted = max(MIN_WORDS, -(-capacity * bits_per_key // 64))
    return 1 << (wanted - 1).bit_length()


class BloomFront:
    """A register-blocked Bloom filter of 17-byte storage keys; one writer, many readers."""

    __slots__ = ("_words", "_view", "_word_mask", "_masks", "added")

    def __init__(self, word_count: int, words: bytes | None = None, added: int = 0) -> None:
        if word_count < 1 or word_count & (word_count - 1):
            raise ValueError(f"word_count must be a power of two, not {word_count}")
        self._words = array("Q", bytes(word_count * 8) if words is None else words)
        if len(self._words) != word_count:
            raise ValueError(f"expected {word_count} words, got {len(self._words)}")
        self._view: npt.NDArray[np.uint64] = np.frombuffer(self._words, dtype=np.uint64)
        self._word_mask = word_count - 1
        self._masks = mask_table()
        self.added = added
        """Keys added (re-adds counted again): an upper bound on distinct keys, for sizing."""

    @classmethod
    def for_capacity(cls, capacity: int, bits_per_key: int = DEFAULT_BITS_PER_KEY) -> BloomFront:
        """An empty filter sized for `capacity` keys."""
        return cls(words_for(capacity, bits_per_key))

    @property
    def word_count(self) -> int:
        return len(self._words)

    @property
    def size_bytes(self) -> int:
        return len(self._words) * 8

    def to_bytes(self) -> bytes:
        """The words, little-endian, for persisting."""
        return self._words.tobytes()

    def add(self, key: bytes) -> None:
        """Add one storage key."""
        word, mask_index = _WORD_AND_MASK_INDEX(key)
        self._words[word & self._word_mask] |= self._masks[mask_index]
        self.added += 1

    def add_many(self, keys: Sequence[bytes]) -> None:
        """Add storage keys (a loop: numpy's |= cannot handle repeated indexes in one batch)."""
        for key in keys:
            self.add(key)

    def might_contain(self, key: bytes) -> bool:
        """False: certainly absent. True: present, or a false positive."""
        word, mask_index = _WORD_AND_MASK_INDEX(key)
        mask = self._masks[mask_index]
        return bool(self._words[word & self._word_mask] & mask == mask)

    def might_contain_many(self, keys: Sequence[bytes]) -> npt.NDArray[np.bool_]:
        """Vectorised might_contain over 17-byte keys."""
        if not keys:
            return np.zeros(0, dtype=np.bool_)
        raw = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, KEY_SIZE)
        word_index = raw[:, 1:9].copy().view("<u8").ravel() & np.uint64(self._word_mask)
        mask_index = raw[:, 9:11].copy().view("<u2").ravel()
        masks = _mask_array()[mask_index]
        result: npt.NDArray[np.bool_] = (self._view[word_index] & masks) == masks
        return result
