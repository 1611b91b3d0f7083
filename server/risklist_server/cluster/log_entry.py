"""One write as the cluster's log holds it: which method, from whom, when, and the request's bytes.

Every node applies the same entries in the same order and must reach the same records, so an entry carries all
a write's handler reads besides the store: the caller (partner id and roles), the request id the receiving
node gave the call (the log's de-duplication id: a retried publish is stored once), the time the call was
received (the handler's clock while it applies, so "now" is the same on every node) and the request exactly as
the caller sent it. The encoding is fixed-layout and versioned; decoding refuses anything else with the reason.

    version 1 | received_at_ms (8, big-endian) | 4 length-prefixed (2 bytes) texts: method, partner, request id,
    roles (comma-separated names) | the request (the rest)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from risklist_server.core.partners import Role

ENTRY_VERSION = 1
_HEAD = struct.Struct(">Bq")
_LENGTH = struct.Struct(">H")
_TEXTS = 4
MAX_TEXT_BYTES = 0xFFFF


class InvalidLogEntry(ValueError):
    """Bytes that are not a log entry this version can read (a newer writer, or damage)."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One write-type call as logged (see the module's description)."""

    method: str
    partner: str
    roles: frozenset[Role]
    request_id: str
    received_at_ms: int
    request: bytes

    def encode(self) -> bytes:
        texts = [self.method, self.partner, self.request_id, ",".join(sorted(role.value for role in self.roles))]
        parts = [_HEAD.pack(ENTRY_VERSION, self.received_at_ms)]
        for text in texts:
            encoded = text.encode("utf-8")
            if len(encoded) > MAX_TEXT_BYTES:
                raise ValueError(f"log entry field of {len(encoded)} bytes; at most {MAX_TEXT_BYTES}")
            parts += [_LENGTH.pack(len(encoded)), encoded]
        parts.append(self.request)
        return b"".join(parts)


def decode_entry(data: bytes) -> LogEntry:
    """The entry `data` encodes; InvalidLogEntry (saying what is wrong where) if it is not one."""
    if len(data) < _HEAD.size:
        raise InvalidLogEntry(f"log entry of {len(data)} bytes is shorter than its {_HEAD.size}-byte head")
    version, received_at_ms = _HEAD.unpack_from(data)
    if version != ENTRY_VERSION:
        raise InvalidLogEntry(f"log entry version {version}; this node reads version {ENTRY_VERSION} "
                              "(upgrade it to the version the other nodes run)")
    offset = _HEAD.size
    texts: list[str] = []
    for index in range(_TEXTS):
        if len(data) < offset + _LENGTH.size:
            raise InvalidLogEntry(f"log entry cut inside the length of text {index} at byte {offset}")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if len(data) < offset + length:
            raise InvalidLogEntry(f"log entry text {index} declares {length} bytes, {len(data) - offset} remain")
        try:
            texts.append(data[offset : offset + length].decode("utf-8"))
        except UnicodeDecodeError as error:
            raise InvalidLogEntry(f"log entry text {index} is not UTF-8: {error}") from None
        offset += length
    method, partner, request_id, roles_text = texts
    try:
        roles = frozenset(Role(name) for name in roles_text.split(",") if name)
    except ValueError as error:
        raise InvalidLogEntry(f"log entry names an unknown role: {error}") from None
    return LogEntry(method, partner, roles, request_id, received_at_ms, data[offset:])
