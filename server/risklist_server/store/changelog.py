"""Changelog entries: which keys one write changed, and when, keyed by a monotonically rising sequence."""

from __future__ import annotations

from dataclasses import dataclass

from risklist_kernel.digest import KEY_SIZE
from risklist_server.core.errors import InvalidRecord

CHANGELOG_FORMAT_VERSION = 2
"""Version byte, 8-byte big-endian write time (Unix seconds), then (state byte, 17-byte key) per change."""
UNTIMED_FORMAT_VERSION = 1
"""Entries written before the format had a time: version byte, then the changes. Still read."""
LISTED = 1
"""The key has a record after the write."""
UNLISTED = 0
"""The key's record was deleted by the write."""

_TIME_SIZE = 8
_HEADER_SIZES = {UNTIMED_FORMAT_VERSION: 1, CHANGELOG_FORMAT_VERSION: 1 + _TIME_SIZE}


@dataclass(frozen=True, slots=True)
class Change:
    key: bytes
    listed: bool


def sequence_key(sequence: int) -> bytes:
    """Big-endian so RocksDB's byte order is numeric order."""
    return sequence.to_bytes(8, "big")


def entry_header(written_at: int) -> bytes:
    """The start of an entry written at `written_at` (Unix seconds); the changes follow."""
    return bytes((CHANGELOG_FORMAT_VERSION,)) + written_at.to_bytes(_TIME_SIZE, "big")


def encode_changes(changes: list[Change], written_at: int) -> bytes:
    """The header (version, time), then (state byte, 17-byte key) per change."""
    parts = [entry_header(written_at)]
    for change in changes:
        parts.append(bytes((LISTED if change.listed else UNLISTED,)))
        parts.append(change.key)
    return b"".join(parts)


def entry_time(data: bytes) -> int | None:
    """When the entry was written (Unix seconds); None for an untimed (version 1) entry."""
    _header_size(data)
    if data[0] == UNTIMED_FORMAT_VERSION:
        return None
    return int.from_bytes(data[1 : 1 + _TIME_SIZE], "big")


def decode_changes(data: bytes) -> list[Change]:
    """Inverse of encode_changes (either version); raise InvalidRecord on an unknown version or bad length."""
    stride = 1 + KEY_SIZE
    body = memoryview(data)[_header_size(data) :]
    if len(body) % stride:
        raise InvalidRecord("changelog entry is truncated")
    return [
        Change(bytes(body[offset + 1 : offset + stride]), body[offset] == LISTED)
        for offset in range(0, len(body), stride)
    ]


def _header_size(data: bytes) -> int:
    size = _HEADER_SIZES.get(data[0]) if data else None
    if size is None:
        raise InvalidRecord("changelog entry has an unknown format version")
    if len(data) < size:
        raise InvalidRecord("changelog entry is truncated")
    return size
