"""Requests parsed by the servicers themselves: size and count checked on the wire bytes first, and
undecodable bytes refused as the caller's error (INVALID_ARGUMENT), never INTERNAL.

grpc's own deserializer would build every message object before a handler could look at the
count (10M empty subjects: gigabytes and seconds), and a DecodeError in it ends the call as
INTERNAL "Exception deserializing request!". So every method is registered without a deserializer
and its servicer calls `decode` (and `require_at_most` first, for a batch) inside its RPC log.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from risklist_kernel.errors import RiskListError
from risklist_server.core.errors import BatchTooLarge

MessageT = TypeVar("MessageT", bound=Message)

SUBJECT_BYTES = 300
"""The most bytes one legal Subject takes on the wire, with its tag and length (a 256-character value
is about 265): a request longer than max_batch of them cannot be legal."""
REPORT_BYTES = 1_000
"""The same for one Report (its subject, a 64-character reference of up to 256 bytes, an expiry)."""
MUTATION_BYTES = 1_000
"""The same for one Admin.Ingest Mutation."""
OTHER_BYTES = 1_024
"""Room for a request's fields other than its batch (a category, a framing tag)."""
OTHER_FIELDS = 16
"""Top-level fields a request may carry besides its batch before the walk stops counting."""

_WIRE_VARINT, _WIRE_FIXED64, _WIRE_LENGTH, _WIRE_FIXED32 = 0, 1, 2, 5


class UndecodableRequest(RiskListError):
    """The request's bytes are not the message the method takes (INVALID_ARGUMENT)."""

    def __init__(self, message_type: str, reason: str) -> None:
        super().__init__(f"the request is not a valid {message_type} message ({reason}); send the method's "
                         "request message, serialized by a protobuf library")


def decode(message_type: type[MessageT], data: bytes) -> MessageT:
    """`data` parsed as `message_type`; UndecodableRequest if it is not one."""
    try:
        return message_type.FromString(data)
    except DecodeError as error:
        raise UndecodableRequest(message_type.DESCRIPTOR.full_name, str(error) or "malformed") from None


def require_at_most(
    data: bytes, field: int, maximum: int, *, item_bytes: int, items: str, message_type: str
) -> None:
    """Refuse (BatchTooLarge, naming `maximum`) a serialized request whose repeated `field` holds more than
    `maximum` entries, before anything is unpacked: first by its length alone (more bytes than `maximum`
    entries of `item_bytes` each can take), then by counting the field's tags in at most `maximum`
    + OTHER_FIELDS steps, never reading an entry's contents."""
    if len(data) > maximum * item_bytes + OTHER_BYTES:
        raise BatchTooLarge(len(data) // item_bytes, maximum, items=items, at_least=True,
                            reason=f"the request's {len(data)} bytes are more than {maximum} {items} can take")
    count = count_field(data, field, limit=maximum, message_type=message_type)
    if count > maximum:
        raise BatchTooLarge(count, maximum, items=items, at_least=True)


def count_field(data: bytes | memoryview, field: int, *, limit: int, message_type: str) -> int:
    """How many times top-level `field` occurs in serialized `data`, counted from the tags alone; the walk
    stops at limit + 1 occurrences (or limit + OTHER_FIELDS fields of any number) and returns limit + 1.
    UndecodableRequest if the wire format is broken."""
    view = memoryview(data)
    size = len(view)
    offset = found = walked = 0
    while offset < size:
        walked += 1
        if walked > limit + OTHER_FIELDS:
            return limit + 1
        tag, offset = _varint(view, offset, message_type)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise UndecodableRequest(message_type, "field number 0")
        if wire_type == _WIRE_VARINT:
            _, offset = _varint(view, offset, message_type)
        elif wire_type == _WIRE_LENGTH:
            length, offset = _varint(view, offset, message_type)
            offset += length
        elif wire_type == _WIRE_FIXED64:
            offset += 8
        elif wire_type == _WIRE_FIXED32:
            offset += 4
        else:
            raise UndecodableRequest(message_type, f"wire type {wire_type} of field {number}")
        if offset > size:
            raise UndecodableRequest(message_type, "truncated")
        if number == field:
            found += 1
            if found > limit:
                return limit + 1
    return found


def field_payloads(data: bytes, field: int, *, message_type: str) -> list[memoryview]:
    """The payloads of each length-delimited top-level `field` of a message of a few fields (a oneof's
    part, e.g. IngestRequest.batch), without copying; UndecodableRequest past OTHER_FIELDS fields."""
    view = memoryview(data)
    size = len(view)
    offset = walked = 0
    payloads: list[memoryview] = []
    while offset < size:
        walked += 1
        if walked > OTHER_FIELDS:
            raise UndecodableRequest(message_type, f"more than {OTHER_FIELDS} top-level fields")
        tag, offset = _varint(view, offset, message_type)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == _WIRE_LENGTH:
            length, offset = _varint(view, offset, message_type)
            if number == field:
                payloads.append(view[offset : offset + length])
            offset += length
        elif wire_type == _WIRE_VARINT:
            _, offset = _varint(view, offset, message_type)
        elif wire_type in (_WIRE_FIXED64, _WIRE_FIXED32):
            offset += 8 if wire_type == _WIRE_FIXED64 else 4
        else:
            raise UndecodableRequest(message_type, f"wire type {wire_type} of field {number}")
        if offset > size:
            raise UndecodableRequest(message_type, "truncated")
    return payloads


def _varint(view: memoryview, offset: int, message_type: str) -> tuple[int, int]:
    value = shift = 0
    size = len(view)
    while True:
        if offset >= size or shift > 63:
            raise UndecodableRequest(message_type, "truncated or over-long varint")
        byte = view[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
