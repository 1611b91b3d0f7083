"""Expiry: which contributions of a record have run out (they no longer count, and the sweep purges them)."""

from __future__ import annotations

from risklist_server.core.record import Record


def without_expired(record: Record, now: int) -> Record:
    """The record's contributions still live at `now` (the same tuple by value when none expired)."""
    return tuple(c for c in record if c.is_live(now))


def has_expired(record: Record, now: int) -> bool:
    """Whether any contribution of the record has expired at `now`."""
    return any(not c.is_live(now) for c in record)
