"""Changelog entries: the timed format, and untimed (version 1) entries still read."""

from __future__ import annotations

import pytest

from risklist_server.core.errors import InvalidRecord
from risklist_server.store.changelog import Change, decode_changes, encode_changes, entry_time

CHANGES = [Change(b"\x01" + bytes(16), True), Change(b"\x02" + bytes([7]) * 16, False)]


def test_an_entry_round_trips_with_its_time() -> None:
    """encode_changes then decode_changes gives the changes back; entry_time gives the time."""
    data = encode_changes(CHANGES, 1_800_000_000)
    assert data[0] == 2 and len(data) == 1 + 8 + 2 * 18
    assert decode_changes(data) == CHANGES
    assert entry_time(data) == 1_800_000_000


def test_an_untimed_entry_still_decodes_with_no_time() -> None:
    """A version 1 entry (written before entries had a time) reads as its changes, of unknown age."""
    data = bytes((1,)) + b"".join(bytes((int(change.listed),)) + change.key for change in CHANGES)
    assert decode_changes(data) == CHANGES
    assert entry_time(data) is None


@pytest.mark.parametrize(("data", "message"), [
    (b"", "unknown format version"),
    (b"\x09" + bytes(18), "unknown format version"),
    (b"\x02" + bytes(5), "truncated"),
    (encode_changes(CHANGES, 5)[:-1], "truncated"),
])
def test_a_bad_entry_is_refused(data: bytes, message: str) -> None:
    """An unknown version or a cut entry raises InvalidRecord saying which."""
    with pytest.raises(InvalidRecord, match=message):
        decode_changes(data)
