"""A subject's record: every source's contribution, and its compact versioned encoding."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.errors import InvalidRecord

RECORD_FORMAT_VERSION = 1
MAX_SOURCE_LENGTH = 64

_HEADER = struct.Struct("<BH")  # version, contribution count
_FIXED = struct.Struct("<BBqq")  # category, level, reported_at, expires_at (unix seconds)
_REFERENCE_LENGTH = struct.Struct("<H")  # UTF-8 bytes: 64 characters may take up to 256
_TAIL = struct.Struct("<BBqqH")  # _FIXED then _REFERENCE_LENGTH: a contribution after its source


@dataclass(frozen=True, slots=True, order=True)
class Contribution:
    """One source's report of one category about one subject; times are unix seconds (UTC)."""

    source: str
    category: Category
    level: RiskLevel
    reported_at: int
    expires_at: int
    reference: str = ""

    @property
    def identity(self) -> tuple[str, Category]:
        """A source holds at most one contribution per category of a subject."""
        return (self.source, self.category)

    def is_live(self, now: int) -> bool:
        """Whether the contribution still counts at `now` (it expires at expires_at)."""
        return now < self.expires_at


Record = tuple[Contribution, ...]
"""A subject's contributions, sorted by (source, category); empty means not listed."""


def encode_record(record: Record) -> bytes:
    """Version 1: header (version u8, count u16), then per contribution: source (u8 length +
    UTF-8), category u8, level u8, reported_at i64, expires_at i64, reference (u16 length + UTF-8).
    """
    parts = [_HEADER.pack(RECORD_FORMAT_VERSION, len(record))]
    for contribution in record:
        source = contribution.source.encode("utf-8")
        reference = contribution.reference.encode("utf-8")
        parts.append(bytes((len(source),)))
        parts.append(source)
        parts.append(
            _FIXED.pack(
                contribution.category,
                contribution.level,
                contribution.reported_at,
                contribution.expires_at,
            )
        )
        parts.append(_REFERENCE_LENGTH.pack(len(reference)))
        parts.append(reference)
    return b"".join(parts)


def decode_record(data: bytes) -> Record:
    """Inverse of encode_record; raise InvalidRecord on an unknown version or a short value."""
    try:
        version, count = _HEADER.unpack_from(data, 0)
        if version != RECORD_FORMAT_VERSION:
            raise InvalidRecord(f"record format version {version} is not supported")
        offset = _HEADER.size
        contributions = []
        for _ in range(count):
            source_length = data[offset]
            source = data[offset + 1 : offset + 1 + source_length].decode("utf-8")
            offset += 1 + source_length
            category, level, reported_at, expires_at = _FIXED.unpack_from(data, offset)
            offset += _FIXED.size
            (reference_length,) = _REFERENCE_LENGTH.unpack_from(data, offset)
            offset += _REFERENCE_LENGTH.size
            if offset + reference_length > len(data):
                raise InvalidRecord("stored record is damaged: reference runs past the end")
            reference = data[offset : offset + reference_length].decode("utf-8")
            offset += reference_length
            contributions.append(
                Contribution(
                    source, Category(category), RiskLevel(level), reported_at, expires_at, reference
                )
            )
    except (struct.error, IndexError, UnicodeDecodeError, ValueError) as error:
        if isinstance(error, InvalidRecord):
            raise
        raise InvalidRecord(f"stored record is damaged: {error}") from None
    if offset > len(data):
        raise InvalidRecord("stored record is damaged: it ends before its last contribution")
    if offset < len(data):
        raise InvalidRecord(f"stored record has {len(data) - offset} trailing bytes")
    return tuple(contributions)


_CATEGORIES = frozenset(int(category) for category in Category)
_LEVELS = frozenset(int(level) for level in RiskLevel)


def holds_expired(data: bytes, now: int) -> bool:
    """has_expired(decode_record(data), now), read from the bytes without building the contributions (the
    expiry sweep reads every record of the store this way); raises InvalidRecord wherever decode_record does."""
    try:
        version, count = _HEADER.unpack_from(data, 0)
        offset = _HEADER.size
        expired = False
        for _ in range(count):
            source_end = offset + 1 + data[offset]
            data[offset + 1 : source_end].decode("utf-8")
            category, level, _, expires_at, reference_length = _TAIL.unpack_from(data, source_end)
            offset = source_end + _TAIL.size + reference_length
            data[offset - reference_length : offset].decode("utf-8")
            if category not in _CATEGORIES or level not in _LEVELS or offset > len(data):
                break
            expired = expired or expires_at <= now
        else:
            if offset == len(data) and version == RECORD_FORMAT_VERSION:
                return expired
    except (struct.error, IndexError, UnicodeDecodeError):
        pass
    decode_record(data)  # the record is damaged: raises the precise InvalidRecord
    raise AssertionError("decode_record accepted a record holds_expired could not read")


def record_prefix(source: str, count: int) -> bytes:
    """The encoding of a record of `count` contributions up to its first one's category: header, then the
    source (a record whose contributions all come from `source` is this prefix, then their tails)."""
    encoded = source.encode("utf-8")
    return _HEADER.pack(RECORD_FORMAT_VERSION, count) + bytes((len(encoded),)) + encoded


def pack_tail(category: int, level: int, reported_at: int, expires_at: int, reference: bytes) -> bytes:
    """A contribution's encoding without its source, from its parts (`reference` in UTF-8)."""
    return _TAIL.pack(category, level, reported_at, expires_at, len(reference)) + reference


def contribution_tail(contribution: Contribution) -> bytes:
    """A contribution's record encoding without its source (see encode_record)."""
    return pack_tail(contribution.category, contribution.level, contribution.reported_at,
                     contribution.expires_at, contribution.reference.encode("utf-8"))


def contribution_from_tail(source: str, tail: bytes) -> Contribution:
    """Inverse of contribution_tail for `source`; raise InvalidRecord on a damaged tail."""
    return decode_record(record_prefix(source, 1) + tail)[0]
