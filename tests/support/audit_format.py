"""Audit frames in format 1, as risklist wrote them before format 2: old segments must stay readable."""

from __future__ import annotations

import struct
import zlib

from risklist_server.audit.record import FRAME_MARKER, AuditRecord


def frame(body: bytes) -> bytes:
    """A frame around `body`: marker, length, CRC-32 of length and body."""
    length = struct.pack("<I", len(body))
    return FRAME_MARKER + length + struct.pack("<I", zlib.crc32(body, zlib.crc32(length))) + body


def _text(value: str) -> bytes:
    data = value.encode()
    return struct.pack("<H", len(data)) + data


def format_1_frame(record: AuditRecord) -> bytes:
    """`record` (its format-1 fields) framed as format 1: no source, flags or unrecorded count."""
    return frame(struct.pack("<BQ", 1, record.time_ns)
                 + b"".join(_text(value) for value in (record.method, record.status, record.partner,
                                                       record.request_id))
                 + struct.pack("<I", record.key_count) + record.keys
                 + struct.pack(f"<I{len(record.hits)}I", len(record.hits), *record.hits))
