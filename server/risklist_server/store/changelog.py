"""Changelog entries: which keys one write changed, keyed by a monotonically rising sequence."""

from __future__ import annotations

from dataclasses import dataclass

from risklist_kernel.digest import KEY_SIZE
from risklist_server.core.errors import InvalidRecord

CHANGELOG_FORMAT_VERSION = 1
LISTED = 1
"""The key has a record after the write."""
UNLISTED = 0
"""The key's record was deleted by the write."""


@dataclass(frozen=True, slots=True)
class Change:
    key: bytes
    listed: bool


def sequence_key(sequence: int) -> bytes:
    """Big-endian so RocksDB's byte order is numeric order."""
    return sequence.to_bytes(8, "big")


def encode_changes(changes: list[Change]) -> bytes:
    """Version byte, then (state byte, 17-byte key) per change."""
    parts = [bytes((CHANGELOG_FORMAT_VERSION,))]
    for change in changes:
        parts.append(bytes((LISTED if change.listed else UNLISTED,)))
        parts.append(change.key)
    return b"".join(parts)


def decode_changes(data: bytes) -> list[Change]:
    """Inverse of encode_changes; raise InvalidRecord on an unknown version or bad length."""
    if not data or data[0] != CHANGELOG_FORMAT_VERSION:
        raise InvalidRecord("changelog entry has an unknown format version")
    stride = 1 + KEY_SIZE
    body = memoryview(data)[1:]
    if len(body) % stride:
        raise InvalidRecord("changelog entry is truncated")
    return [
        Change(bytes(body[offset + 1 : offset + stride]), body[offset] == LISTED)
        for offset in range(0, len(body), stride)
    ]
