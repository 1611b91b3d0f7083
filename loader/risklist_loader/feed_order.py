"""Which accepted rows take effect: a feed's last word per subject and category, for all rows at once, with numpy.

Rows speak in file order and the last row for a subject (storage key) and category wins; a remove
without a category speaks for every category of its subject. So, per subject and category, every row
but the last is SUPERSEDED (never applied), except a row identical to the one before it for that
subject and category (same action, and for an add the same level, dates and reference): it changes
nothing and is REPEATED. The last words are applied (an add already expired, spooled as EXPIRED, as
the end of that listing: a removal of its category). Applying only the last words leaves what applying
every row in order would, and applying them again changes nothing.

A remove of every category followed by adds of the same subject is applied in one batch (`held`), so
that re-loading it counts the adds unchanged (risklist_server.core.mutation.apply_all_counted).

One stable sort by storage key gives this and the bulk path's order (key bytes, then feed order). Most
subjects have one row (applied as is) or two (decided vectorised); longer runs are decided in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from risklist_kernel.digest import KEY_SIZE
from risklist_loader.spool import ADD, REMOVE

APPLY = 0
REPEATED = 1
SUPERSEDED = 2

SameTail = Callable[[int, int], bool]
"""Whether the spooled rows at two positions have identical tails."""


@dataclass(frozen=True, slots=True)
class FeedOrder:
    """Row positions sorted by (storage key, feed line), each row's fate, and the rows held for their group."""

    order: npt.NDArray[np.unsignedinteger[Any]] | npt.NDArray[np.signedinteger[Any]]
    """Positions into the spool's rows: key bytes ascending, then feed order (uint32 when they fit)."""
    fate: npt.NDArray[np.uint8]
    """Per row (spool order): APPLY, REPEATED or SUPERSEDED."""
    held: npt.NDArray[np.int64]
    """Positions (ascending) of applied rows that wait for the last applied row of their subject: a remove of
    every category and the rows after it, which go into one batch."""


def key_columns(keys: npt.NDArray[np.bytes_]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64],
                                                        npt.NDArray[np.uint8]]:
    """A 17-byte key as big-endian (bytes 0-7, bytes 8-15) integers and byte 16: byte order = numeric."""
    raw = np.ascontiguousarray(keys).view(np.uint8).reshape(-1, KEY_SIZE)
    high = raw[:, 0:8].copy().view(">u8").ravel().astype(np.uint64)
    middle = raw[:, 8:16].copy().view(">u8").ravel().astype(np.uint64)
    low = raw[:, 16].copy()
    return high, middle, low


def order_rows(keys: npt.NDArray[np.bytes_], actions: npt.NDArray[np.uint8], categories: npt.NDArray[np.uint8],
               same_tail: SameTail) -> FeedOrder:
    """Sort rows (given in feed order) by key, and decide each one's fate."""
    count = len(keys)
    high, middle, low = key_columns(keys)
    order = np.argsort(high, kind="stable")
    fate = np.zeros(count, dtype=np.uint8)
    held: list[int] = []
    if count < 2:
        return FeedOrder(order, fate, np.zeros(0, dtype=np.int64))
    sorted_high = high[order]
    same_high = sorted_high[1:] == sorted_high[:-1]
    # Runs of equal high words: almost always one key (several categories or actions), in feed order already
    # since the sort is stable. Pairs are decided vectorised, longer runs in Python.
    starts = np.flatnonzero(np.concatenate(([True], ~same_high)))
    lengths = np.diff(np.concatenate((starts, [count])))
    pairs = starts[lengths == 2]
    first, second = order[pairs], order[pairs + 1]
    same_key = (middle[first] == middle[second]) & (low[first] == low[second])
    _decide_pairs(first[same_key], second[same_key], actions, categories, same_tail, fate, held)
    if not np.all(same_key):  # two different keys share their first 8 bytes: put them in key order
        for start in pairs[~same_key]:
            _sort_run(order, int(start), 2, middle, low)
    for start, length in zip(starts[lengths > 2].tolist(), lengths[lengths > 2].tolist(), strict=True):
        _sort_run(order, start, length, middle, low)
        run = order[start : start + length].tolist()
        subject: list[int] = []
        for position in run:
            if subject and (middle[position] != middle[subject[0]] or low[position] != low[subject[0]]):
                decide_subject(subject, actions, categories, same_tail, fate, held)
                subject = []
            subject.append(position)
        decide_subject(subject, actions, categories, same_tail, fate, held)
    del high, sorted_high, same_high, starts, lengths, pairs, first, second, same_key
    return FeedOrder(order.astype(np.uint32) if count < 2**32 else order, fate, np.array(sorted(held), dtype=np.int64))


def decide_subject(rows: list[int], actions: npt.NDArray[np.uint8], categories: npt.NDArray[np.uint8],
                   same_tail: SameTail, fate: npt.NDArray[np.uint8], held: list[int]) -> None:
    """Decide the fates of one subject's rows (positions in feed order); the rule every path follows."""
    pending: dict[int, int] = {}
    """Category -> the row that has the last word for it so far."""
    everything = -1
    """The row of a remove of every category that has the last word for the rest, or -1."""
    for position in rows:
        action, category = int(actions[position]), int(categories[position])
        if category == 0:  # a remove of every category
            if everything >= 0 and not pending:
                fate[position] = REPEATED
                continue
            for earlier in pending.values():
                fate[earlier] = SUPERSEDED
            if everything >= 0:
                fate[everything] = SUPERSEDED
            pending.clear()
            everything = position
            continue
        earlier = pending.get(category, -1)
        if earlier >= 0 and int(actions[earlier]) == action and (action == REMOVE or same_tail(earlier, position)):
            fate[position] = REPEATED
            continue
        if earlier >= 0:
            fate[earlier] = SUPERSEDED
        pending[category] = position
    if everything >= 0 and any(int(actions[row]) == ADD for row in pending.values()):
        held.extend(sorted([everything, *pending.values()])[:-1])


def _decide_pairs(first: npt.NDArray[Any], second: npt.NDArray[Any], actions: npt.NDArray[np.uint8],
                  categories: npt.NDArray[np.uint8], same_tail: SameTail, fate: npt.NDArray[np.uint8],
                  held: list[int]) -> None:
    """decide_subject for many subjects of exactly two rows (`first` before `second` in the feed), vectorised."""
    first_action, second_action = actions[first], actions[second]
    first_all, second_all = categories[first] == 0, categories[second] == 0
    fate[second[first_all & second_all]] = REPEATED
    fate[first[second_all & ~first_all]] = SUPERSEDED
    same_slot = ~first_all & ~second_all & (categories[first] == categories[second])
    alike = same_slot & (first_action == second_action)
    candidates = np.flatnonzero(alike & (first_action != REMOVE))
    if len(candidates):  # adds of one category twice: identical only if their tails are
        alike[candidates] = [same_tail(int(first[index]), int(second[index])) for index in candidates.tolist()]
    fate[second[alike]] = REPEATED
    fate[first[same_slot & ~alike]] = SUPERSEDED
    held.extend(first[first_all & ~second_all & (second_action == ADD)].tolist())


def _sort_run(order: npt.NDArray[np.intp], start: int, length: int, middle: npt.NDArray[np.uint64],
              low: npt.NDArray[np.uint8]) -> None:
    """Order one run of equal high words by (rest of the key, feed order), in place."""
    members = order[start : start + length].tolist()
    members.sort(key=lambda position: (int(middle[position]), int(low[position]), position))
    order[start : start + length] = members
