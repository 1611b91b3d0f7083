"""One audit record and its binary framing: length-prefixed, CRC32-checked, keys as raw bytes.

A segment file is `SEGMENT_MAGIC` followed by frames. A frame is

    a7 1d | u32 body length | u32 CRC32 of (length bytes + body) | body

and a body (format 2, little-endian; what this writer writes) is

    u8 2 | u64 time (ns since the Unix epoch) | method, status, partner, request id, source
    (each u16 length + UTF-8) | u8 flags | u32 unrecorded subject count | u32 key count
    | keys (17 bytes each: type byte + digest) | u32 hit count | hits (u32 index into the keys each)

flags: bit 0, the unrecorded count is a lower bound ("at least"); bit 1, the request never
arrived (the call ended before its message was read: what it carried is unknown); other bits 0.
The unrecorded count is of subjects the request carried whose keys are not recorded (a batch
refused for its size before any subject was read). Format 1, written by earlier releases, is the
same without source, flags and unrecorded count:

    u8 1 | u64 time | method, status, partner, request id | u32 key count | keys | u32 hit count | hits

and is still read (source "", nothing unrecorded). The frame marker lets a reader find the
next intact frame after a damaged one; the CRC tells a torn or damaged frame from a good one.
Never a raw identifier: keys are keyed digests.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from risklist_kernel.digest import KEY_SIZE

SEGMENT_MAGIC = b"RLAUDIT\x01"
FRAME_MARKER = b"\xa7\x1d"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
_FRAME_HEAD = struct.Struct("<2sII")
_LENGTH = struct.Struct("<I")
_BODY_HEAD = struct.Struct("<BQ")
_COUNTS = struct.Struct("<BII")  # flags, unrecorded subjects, keys (format 2)
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
AT_LEAST = 0x01
"""Flag: the unrecorded count is a lower bound."""
NOT_RECEIVED = 0x02
"""Flag: the request never arrived; what it carried is unknown."""
_KNOWN_FLAGS = AT_LEAST | NOT_RECEIVED
MAX_BODY = 1 << 30
"""Larger lengths are damage, not records (a 100k-key batch is 1.7 MB)."""

if array("I").itemsize != 4:  # pragma: no cover - every platform Python 3.11 runs on
    raise ImportError("the audit codec needs 4-byte unsigned ints")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One answered (or refused) call, or one message of a stream: who, when, what, with what result."""

    time_ns: int
    partner: str
    method: str
    request_id: str
    status: str
    """gRPC status code name: OK, INVALID_ARGUMENT, ..."""
    keys: bytes
    """The subjects' storage keys, concatenated (KEY_SIZE bytes each)."""
    hits: tuple[int, ...] = ()
    """Indexes into `keys` of the subjects that were listed (lookups only)."""
    source: str = ""
    """The source id an Admin.Ingest loaded under (empty for every other call)."""
    unrecorded: int = 0
    """Subjects the request carried whose keys are not recorded: a batch refused for its size, unread."""
    unrecorded_at_least: bool = False
    """`unrecorded` is a lower bound (the refusal stopped counting)."""
    received: bool = True
    """False: the call ended before its request arrived (grpc refused a message over its size limit, or
    the caller, its deadline or the server's stop cut it off), so nothing is known of its subjects."""

    @property
    def key_count(self) -> int:
        return len(self.keys) // KEY_SIZE

    def key_list(self) -> list[bytes]:
        """The storage keys, in request order."""
        keys = self.keys
        return [keys[start : start + KEY_SIZE] for start in range(0, len(keys), KEY_SIZE)]

    def index_of(self, key: bytes) -> int | None:
        """The position of `key` among the keys (the first, if repeated), or None."""
        start = self.keys.find(key)
        while start != -1:
            if start % KEY_SIZE == 0:
                return start // KEY_SIZE
            start = self.keys.find(key, start + 1)
        return None


def _text(value: str) -> bytes:
    data = value.encode("utf-8")[:0xFFFF]
    return _U16.pack(len(data)) + data


def encode_frame(
    time_ns: int, partner: str, method: str, request_id: str, status: str,
    keys: bytes, hits: Sequence[int] = (), *,
    source: str = "", unrecorded: int = 0, at_least: bool = False, received: bool = True,
) -> bytes:
    """The frame of one record (fields as AuditRecord's; `keys` concatenated; `at_least` is
    AuditRecord.unrecorded_at_least)."""
    if len(keys) % KEY_SIZE:
        raise ValueError(f"keys must be a multiple of {KEY_SIZE} bytes, got {len(keys)}")
    flags = (AT_LEAST if at_least else 0) | (0 if received else NOT_RECEIVED)
    parts = (
        _BODY_HEAD.pack(FORMAT_VERSION, time_ns),
        _text(method), _text(status), _text(partner), _text(request_id), _text(source),
        _COUNTS.pack(flags, min(unrecorded, 0xFFFFFFFF), len(keys) // KEY_SIZE), keys,
        _U32.pack(len(hits)), array("I", hits).tobytes(),
    )
    length = _LENGTH.pack(sum(map(len, parts)))
    crc = zlib.crc32(length)
    for part in parts:  # one copy of the keys in all: into the frame
        crc = zlib.crc32(part, crc)
    return b"".join((FRAME_MARKER, length, _U32.pack(crc), *parts))


def encode_record(record: AuditRecord) -> bytes:
    """The frame of `record`."""
    return encode_frame(record.time_ns, record.partner, record.method, record.request_id,
                        record.status, record.keys, record.hits, source=record.source,
                        unrecorded=record.unrecorded, at_least=record.unrecorded_at_least,
                        received=record.received)


class BadBody(ValueError):
    """A frame whose CRC matched holds a body this reader cannot decode."""


def decode_body(body: bytes) -> AuditRecord:
    """The record in a frame's body; raise BadBody if it is not a format-1 or format-2 body."""
    try:
        version, time_ns = _BODY_HEAD.unpack_from(body, 0)
        if version not in READABLE_VERSIONS:
            raise BadBody(f"unknown record format {version} (this reader knows "
                          f"{', '.join(map(str, READABLE_VERSIONS))}): read it with a newer risklist")
        offset = _BODY_HEAD.size
        texts = []
        for _ in range(4 if version == 1 else 5):
            (size,) = _U16.unpack_from(body, offset)
            offset += 2
            texts.append(body[offset : offset + size].decode("utf-8"))
            offset += size
        if version == 1:
            flags = unrecorded = 0
            (key_count,) = _U32.unpack_from(body, offset)
            offset += 4
        else:
            flags, unrecorded, key_count = _COUNTS.unpack_from(body, offset)
            offset += _COUNTS.size
            if flags & ~_KNOWN_FLAGS:
                raise BadBody(f"unknown record flags {flags:#04x}")
        keys = body[offset : offset + key_count * KEY_SIZE]
        offset += key_count * KEY_SIZE
        (hit_count,) = _U32.unpack_from(body, offset)
        offset += 4
        hits = array("I")
        hits.frombytes(body[offset : offset + hit_count * 4])
        offset += hit_count * 4
    except (struct.error, UnicodeDecodeError) as error:
        raise BadBody(f"malformed record body: {error}") from None
    if len(keys) != key_count * KEY_SIZE or len(hits) != hit_count or offset != len(body):
        raise BadBody("record body length does not match its counts")
    method, status, partner, request_id = texts[:4]
    source = texts[4] if version > 1 else ""
    return AuditRecord(time_ns, partner, method, request_id, status, keys, tuple(hits), source=source,
                       unrecorded=unrecorded, unrecorded_at_least=bool(flags & AT_LEAST),
                       received=not flags & NOT_RECEIVED)


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes of a segment that hold no readable record: where, how many, and why."""

    offset: int
    size: int
    reason: str
    torn_tail: bool
    """The damage runs to the end of the data: a write cut short by a crash or power loss."""


def iter_frames(data: bytes, start: int = 0) -> Iterator[tuple[int, AuditRecord] | Damage]:
    """(offset, record) for each intact frame from `start`; a Damage for each unreadable stretch.

    After damage, reading resumes at the next frame marker whose frame checks out, so one
    bad record never hides the records after it.
    """
    offset = start
    end = len(data)
    while offset < end:
        reason = _frame_problem(data, offset)
        if reason is None:
            (length,) = _LENGTH.unpack_from(data, offset + 2)
            body = data[offset + _FRAME_HEAD.size : offset + _FRAME_HEAD.size + length]
            try:
                yield offset, decode_body(body)
            except BadBody as error:
                yield Damage(offset, _FRAME_HEAD.size + length, str(error), torn_tail=False)
            offset += _FRAME_HEAD.size + length
            continue
        resume = _next_frame(data, offset + 1)
        yield Damage(offset, resume - offset, reason, torn_tail=resume == end)
        offset = resume


def _frame_problem(data: bytes, offset: int) -> str | None:
    """Why the frame at `offset` is unreadable, or None if it is intact."""
    if len(data) - offset < _FRAME_HEAD.size:
        return f"incomplete frame header ({len(data) - offset} bytes)"
    marker, length, crc = _FRAME_HEAD.unpack_from(data, offset)
    if marker != FRAME_MARKER:
        return "no frame marker"
    if length > MAX_BODY:
        return f"implausible record length {length}"
    body_start = offset + _FRAME_HEAD.size
    if body_start + length > len(data):
        return f"incomplete record ({len(data) - body_start} of {length} bytes)"
    if zlib.crc32(data[body_start : body_start + length], zlib.crc32(data[offset + 2 : offset + 6])) != crc:
        return "CRC mismatch"
    return None


def _next_frame(data: bytes, offset: int) -> int:
    """The offset of the next intact frame at or after `offset`, or the end of the data."""
    while True:
        found = data.find(FRAME_MARKER, offset)
        if found == -1:
            return len(data)
        if _frame_problem(data, found) is None:
            return found
        offset = found + 1
