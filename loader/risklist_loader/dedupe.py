"""Duplicate rows and key order over a whole spool at once, with numpy: one stable sort by storage key.

Two accepted rows are duplicates when their storage key and category byte (0: remove every
category) are equal; the first (lowest line) is kept and every later one names it. The same sort
gives the bulk path its order: by storage key bytes, rows of one key in feed order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from risklist_kernel.digest import KEY_SIZE


@dataclass(frozen=True, slots=True)
class KeyOrder:
    """Row positions sorted by (storage key, feed line), and which rows are later duplicates."""

    order: npt.NDArray[np.unsignedinteger[Any]] | npt.NDArray[np.signedinteger[Any]]
    """Positions into the spool's rows: key bytes ascending, then feed order (uint32 when they fit)."""
    duplicate_of: npt.NDArray[np.int64]
    """Per row (spool order): the line of the earlier row it duplicates, or 0."""

    @property
    def duplicates(self) -> int:
        return int(np.count_nonzero(self.duplicate_of))


def key_columns(keys: npt.NDArray[np.bytes_]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64],
                                                        npt.NDArray[np.uint8]]:
    """A 17-byte key as big-endian (bytes 0-7, bytes 8-15) integers and byte 16: byte order = numeric."""
    raw = np.ascontiguousarray(keys).view(np.uint8).reshape(-1, KEY_SIZE)
    high = raw[:, 0:8].copy().view(">u8").ravel().astype(np.uint64)
    middle = raw[:, 8:16].copy().view(">u8").ravel().astype(np.uint64)
    low = raw[:, 16].copy()
    return high, middle, low


def order_keys(keys: npt.NDArray[np.bytes_], categories: npt.NDArray[np.uint8],
               lines: npt.NDArray[np.int64]) -> KeyOrder:
    """Sort rows (given in feed order) by key, and find the duplicates."""
    count = len(keys)
    high, middle, low = key_columns(keys)
    order = np.argsort(high, kind="stable")
    duplicate_of = np.zeros(count, dtype=np.int64)
    if count < 2:
        return KeyOrder(order, duplicate_of)
    sorted_high = high[order]
    same_high = sorted_high[1:] == sorted_high[:-1]
    # Runs of equal high words: almost always one key (several categories or actions), sorted by
    # line already since the sort is stable. Pairs are handled vectorised, longer runs in Python.
    starts = np.flatnonzero(np.concatenate(([True], ~same_high)))
    lengths = np.diff(np.concatenate((starts, [count])))
    pairs = starts[lengths == 2]
    first, second = order[pairs], order[pairs + 1]
    same_key = (middle[first] == middle[second]) & (low[first] == low[second])
    dup = same_key & (categories[first] == categories[second])
    duplicate_of[second[dup]] = lines[first[dup]]
    if not np.all(same_key):  # two different keys share their first 8 bytes: put them in key order
        for start in pairs[~same_key]:
            _sort_run(order, int(start), 2, middle, low, lines)
    for start, length in zip(starts[lengths > 2].tolist(), lengths[lengths > 2].tolist(), strict=True):
        _sort_run(order, start, length, middle, low, lines)
        seen: dict[tuple[int, int, int], int] = {}
        for position in order[start : start + length].tolist():
            mark = (int(middle[position]), int(low[position]), int(categories[position]))
            if mark in seen:
                duplicate_of[position] = seen[mark]
            else:
                seen[mark] = int(lines[position])
    del high, sorted_high, same_high, starts, lengths, pairs, first, second, same_key, dup
    return KeyOrder(order.astype(np.uint32) if count < 2**32 else order, duplicate_of)


def _sort_run(order: npt.NDArray[np.intp], start: int, length: int, middle: npt.NDArray[np.uint64],
              low: npt.NDArray[np.uint8], lines: npt.NDArray[np.int64]) -> None:
    """Order one run of equal high words by (rest of the key, line), in place."""
    members = order[start : start + length].tolist()
    members.sort(key=lambda position: (int(middle[position]), int(low[position]), int(lines[position])))
    order[start : start + length] = members
