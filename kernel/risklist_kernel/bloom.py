"""The rl1-blocked-bloom layout: the server's Bloom front and the SDK's filter probe keys alike.

A storage key (type byte + 16-byte keyed BLAKE2b digest) is already uniformly random, so no
further hashing is needed: bytes 1-8, read as a little-endian unsigned 64-bit integer and
masked with (word_count - 1), pick one 64-bit word; bytes 9-10, little-endian, pick one of
65,536 precomputed masks of BITS_PER_MASK distinct bits. Adding ORs the mask into the word; a
key may be present only if `word & mask == mask`. docs/client.md specifies it for other languages.
"""

from __future__ import annotations

import hashlib
import math
import struct
import sys
from array import array
from collections.abc import Iterable
from functools import cache

ALGORITHM = "rl1-blocked-bloom"
"""FilterParameters.algorithm of this layout."""

BITS_PER_MASK = 8
"""K: bits set per key, all within one 64-bit word."""

MASK_INDEX_BITS = 16
MIN_WORDS = 1024

WORD_AND_MASK_INDEX = struct.Struct("<xQH").unpack_from
"""Bytes 1-8 (word selector) and 9-10 (mask index) of a storage key, in one call."""

_BIG_ENDIAN = sys.byteorder == "big"


@cache
def mask_table() -> tuple[int, ...]:
    """65,536 masks of BITS_PER_MASK distinct bits, derived from BLAKE2b (stable everywhere).

    Mask i: the BLAKE2b-256 digest of i as 4 little-endian bytes, personalisation b"rl1:front";
    take its bytes in order, each byte & 63 is a bit position; stop at 8 distinct positions.
    """
    masks = []
    for index in range(1 << MASK_INDEX_BITS):
        seed = hashlib.blake2b(index.to_bytes(4, "little"), digest_size=32, person=b"rl1:front").digest()
        mask = 0
        for byte in seed:  # a repeated position sets no new bit: the mask has 8 once 8 distinct ones came
            mask |= 1 << (byte & 63)
            if mask.bit_count() == BITS_PER_MASK:
                break
        masks.append(mask)
    return tuple(masks)


def words_for(capacity: int, bits_per_key: int) -> int:
    """Word count (a power of two, at least MIN_WORDS) giving ≥ bits_per_key bits per key."""
    wanted = max(MIN_WORDS, -(-capacity * bits_per_key // 64))
    return 1 << (wanted - 1).bit_length()


def expected_false_positive_rate(word_count: int, key_count: int) -> float:
    """The estimated chance that an absent key passes, with `key_count` keys in `word_count` words.

    Keys per word follow a Poisson law of mean key_count / word_count; a word holding j keys has
    each bit set with probability 1 - (7/8)^j, and an absent key passes if its 8 bits are set.
    """
    if key_count <= 0:
        return 0.0
    mean = key_count / word_count
    total, term, j = 0.0, math.exp(-mean), 0
    while True:
        total += term * (1.0 - (1.0 - BITS_PER_MASK / 64) ** j) ** BITS_PER_MASK
        j += 1
        term *= mean / j
        if j > mean and term < 1e-12:
            return total


class BlockedBloom:
    """A register-blocked Bloom filter of 17-byte storage keys in an array('Q'); one writer, many readers."""

    __slots__ = ("_words", "_word_mask", "_masks", "added")

    def __init__(self, word_count: int, words: bytes | None = None, added: int = 0) -> None:
        """`words`: word_count 64-bit little-endian words (None: all zero)."""
        if word_count < 1 or word_count & (word_count - 1):
            raise ValueError(f"word_count must be a power of two, not {word_count}")
        self._words = array("Q", bytes(word_count * 8) if words is None else words)
        if len(self._words) != word_count:
            raise ValueError(f"expected {word_count} words, got {len(self._words)}")
        if _BIG_ENDIAN and words is not None:
            self._words.byteswap()
        self._word_mask = word_count - 1
        self._masks = mask_table()
        self.added = added
        """Keys added (re-adds counted again): an upper bound on distinct keys, for sizing."""

    @classmethod
    def from_words(cls, words: array[int], added: int = 0) -> BlockedBloom:
        """Take over `words`, filled with array.frombytes from little-endian data (no copy)."""
        bloom = cls(1)
        if _BIG_ENDIAN:
            words.byteswap()
        count = len(words)
        if count < 1 or count & (count - 1):
            raise ValueError(f"word_count must be a power of two, not {count}")
        bloom._words = words
        bloom._word_mask = count - 1
        bloom.added = added
        return bloom

    @property
    def word_count(self) -> int:
        return len(self._words)

    @property
    def size_bytes(self) -> int:
        return len(self._words) * 8

    def to_bytes(self) -> bytes:
        """The words, little-endian (the wire and file form)."""
        if not _BIG_ENDIAN:
            return self._words.tobytes()
        swapped = array("Q", self._words)
        swapped.byteswap()
        return swapped.tobytes()

    def add(self, key: bytes) -> None:
        """Add one storage key."""
        word, mask_index = WORD_AND_MASK_INDEX(key)
        self._words[word & self._word_mask] |= self._masks[mask_index]
        self.added += 1

    def add_many(self, keys: Iterable[bytes]) -> None:
        """Add storage keys one by one."""
        for key in keys:
            self.add(key)

    def might_contain(self, key: bytes) -> bool:
        """False: certainly absent. True: present, or a false positive."""
        word: int
        mask_index: int
        word, mask_index = WORD_AND_MASK_INDEX(key)
        mask = self._masks[mask_index]
        return self._words[word & self._word_mask] & mask == mask
