"""The Bloom front: the shared rl1-blocked-bloom layout (risklist_kernel.bloom) with a numpy batch probe.

Keys are keyed BLAKE2b digests, so their bytes are already uniformly random: bytes 1-8 pick
a 64-bit word and bytes 9-10 pick one of 65,536 precomputed masks of K bits. A lookup is one
word test (`word & mask == mask`), in pure Python for one key (the SDK's code) and in numpy
for a batch. It may answer "maybe" for an absent key, never "no" for a present one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

from risklist_kernel.bloom import BlockedBloom, mask_table, words_for
from risklist_kernel.digest import KEY_SIZE

__all__ = ["DEFAULT_BITS_PER_KEY", "BloomFront", "Front", "mask_array", "probe_packed"]

DEFAULT_BITS_PER_KEY = 16


@cache
def mask_array() -> npt.NDArray[np.uint64]:
    """The layout's 65,536 masks as a numpy array."""
    return np.array(mask_table(), dtype=np.uint64)


def probe_packed(words: npt.NDArray[np.uint64], packed: bytes) -> npt.NDArray[np.bool_]:
    """might_contain over concatenated 17-byte keys, against `words` (a power-of-two count, any byte order)."""
    if not packed:
        return np.zeros(0, dtype=np.bool_)
    raw = np.frombuffer(packed, dtype=np.uint8).reshape(-1, KEY_SIZE)
    word_index = raw[:, 1:9].copy().view("<u8").ravel() & np.uint64(len(words) - 1)
    mask_index = raw[:, 9:11].copy().view("<u2").ravel()
    masks = mask_array()[mask_index]
    result: npt.NDArray[np.bool_] = (words[word_index] & masks) == masks
    return result


class Front(Protocol):
    """What the read side asks of a front: the writer's BloomFront, or a reader's SharedFront."""

    @property
    def word_count(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...

    @property
    def added(self) -> int: ...

    def add(self, key: bytes) -> None: ...

    def might_contain(self, key: bytes) -> bool: ...

    def might_contain_many(self, keys: Sequence[bytes]) -> npt.NDArray[np.bool_]: ...

    def might_contain_packed(self, packed: bytes) -> npt.NDArray[np.bool_]: ...

    def words_view(self) -> npt.NDArray[np.uint64]: ...


class BloomFront(BlockedBloom):
    """The shared rl1-blocked-bloom layout with a numpy batch probe; one writer, many readers."""

    __slots__ = ("_view",)

    def __init__(self, word_count: int, words: bytes | None = None, added: int = 0) -> None:
        super().__init__(word_count, words, added)
        self._view: npt.NDArray[np.uint64] = np.frombuffer(self._words, dtype=np.uint64)

    @classmethod
    def for_capacity(cls, capacity: int, bits_per_key: int = DEFAULT_BITS_PER_KEY) -> BloomFront:
        """An empty filter sized for `capacity` keys."""
        return cls(words_for(capacity, bits_per_key))

    def words_view(self) -> npt.NDArray[np.uint64]:
        """The live words as a numpy array (no copy; native byte order)."""
        return self._view

    def might_contain_many(self, keys: Sequence[bytes]) -> npt.NDArray[np.bool_]:
        """Vectorised might_contain over 17-byte keys."""
        return self.might_contain_packed(b"".join(keys))

    def might_contain_packed(self, packed: bytes) -> npt.NDArray[np.bool_]:
        """might_contain_many over concatenated 17-byte keys (as an all-digest request carries them)."""
        return probe_packed(self._view, packed)


def front_words_for(keys: npt.NDArray[np.uint8], words: npt.NDArray[np.uint64]) -> None:
    """Add storage keys (n x 17 bytes) to a front's words in place, as BloomFront.add does one by one."""
    if len(keys) == 0:
        return
    word_index = keys[:, 1:9].copy().view("<u8").ravel() & np.uint64(len(words) - 1)
    mask_index = keys[:, 9:11].copy().view("<u2").ravel()
    masks = mask_array()[mask_index]
    np.bitwise_or.at(words, word_index, masks)


def tile_words(source: npt.NDArray[np.uint64], target: npt.NDArray[np.uint64]) -> None:
    """Copy a front's words into a front of as many or more words (a power-of-two multiple), in place.

    Word i of a front of kW words is word i mod W of the W-word front under both sizes' indexing, so
    every key of the smaller one stays covered.
    """
    for start in range(0, len(target), len(source)):
        target[start : start + len(source)] = source
