"""Trimming the changelog to its retention window, and the low-water mark that says how far it was trimmed.

The mark (`changelog_trimmed_through` in the meta column family) is the last sequence removed; it is
written in the same WriteBatch as the range deletion, so every view (the writer after a restart, a
replica after a catch-up) sees both or neither. Entries after the mark are all present: a view whose
version is below the mark can no longer be brought up to date from the changelog (a partner filter gets
a reset, a front is rebuilt from the records), never a delta that misses changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rocksdict import ColumnFamily, Rdict, WriteBatch

from risklist_server.store.changelog import entry_time, sequence_key
from risklist_server.store.rocks import iter_items

TRIMMED_THROUGH_KEY = b"changelog_trimmed_through"
"""Meta key: 8-byte big-endian last sequence trimmed from the changelog (absent: nothing trimmed)."""


@dataclass(frozen=True, slots=True)
class ChangelogWindow:
    """How much of the changelog the writer keeps: at most `max_entries` entries, none older than `max_age`
    seconds. The newest entry is always kept (it carries the list version across a restart)."""

    max_entries: int
    max_age: int


@dataclass(frozen=True, slots=True)
class ChangelogTrim:
    """What one trim did: entries removed, and the low-water mark afterwards."""

    trimmed: int
    trimmed_through: int


def read_trimmed_through(meta: Rdict) -> int:
    """The last sequence trimmed from the changelog (0: none)."""
    value = meta.get(TRIMMED_THROUGH_KEY)
    return 0 if value is None else int.from_bytes(value, "big")


@dataclass(frozen=True, slots=True)
class TrimScan:
    """Where the window cuts the changelog, and the last untimed entry the scan read past."""

    point: int
    """The last sequence the window lets go (≤ the mark: nothing to trim)."""
    untimed_through: int
    """Pass it to the next scan, which then starts after it (untimed entries are only ever a prefix)."""


def trim_point(changelog: Rdict, trimmed_through: int, last: int, window: ChangelogWindow, now: int,
               untimed_through: int = 0) -> TrimScan:
    """Where `window` cuts the changelog of entries up to `last`, trimmed through `trimmed_through` so far.

    By entries: everything before the newest `max_entries`. By age: every entry up to the last one
    written before `now - max_age`, read from the oldest on and stopped at the first younger one, so
    a clock set back only keeps more. An untimed entry (written before entries had a time) is as old
    as the first timed entry after it: it goes with that one, or by the entry cap. The untimed entries
    are read once: a scan given `untimed_through` starts after it.
    """
    point = max(trimmed_through, last - window.max_entries)
    cutoff = now - window.max_age
    for key, value in iter_items(changelog, sequence_key(max(point, untimed_through) + 1)):
        sequence = int.from_bytes(key, "big")
        if sequence >= last:
            break
        written = entry_time(value)
        if written is None:
            untimed_through = sequence
            continue
        if written >= cutoff:
            break
        point = sequence
    return TrimScan(min(point, last - 1), untimed_through)


def stage_trim(batch: WriteBatch, changelog: ColumnFamily, meta: ColumnFamily, after: int, through: int) -> None:
    """Remove entries `after`+1 … `through` and move the mark to `through`, in `batch`."""
    batch.delete_range(sequence_key(after + 1), sequence_key(through + 1), changelog)
    batch.put(TRIMMED_THROUGH_KEY, sequence_key(through), meta)
