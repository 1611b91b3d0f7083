"""Counting a request's batch on the wire (rpc/decode.py) without unpacking it."""

from __future__ import annotations

import pytest
from risklist.v1 import risklist_pb2 as pb

from risklist_server.core.errors import BatchTooLarge
from risklist_server.rpc.decode import UndecodableRequest, count_field, decode, require_at_most


def test_count_field_counts_a_repeated_field_among_others() -> None:
    """The count is the repeated field's, whatever other fields the message carries."""
    data = pb.RevokeRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.1")] * 7,
                            category=pb.CATEGORY_GAMBLING).SerializeToString()
    assert count_field(data, 1, limit=100, message_type="RevokeRequest") == 7


def test_count_field_stops_past_the_limit() -> None:
    """The walk stops one past the limit, so a huge batch costs no more than a legal one."""
    data = b"\x0a\x00" * 1_000_000
    assert count_field(data, 1, limit=10, message_type="BatchCheckRequest") == 11


def test_broken_wire_bytes_are_undecodable() -> None:
    """A truncated length or an impossible wire type is the caller's error, not a crash."""
    for data in (b"\x0a\x05ab", b"\x0f", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"):
        with pytest.raises(UndecodableRequest):
            count_field(data, 1, limit=10, message_type="BatchCheckRequest")
    with pytest.raises(UndecodableRequest, match="risklist.v1.CheckRequest"):
        decode(pb.CheckRequest, b"\x0a\xff\xff\xff\xff\x0f")


def test_require_at_most_refuses_by_bytes_before_counting() -> None:
    """A request longer than the maximum number of entries can be is refused by its length alone."""
    with pytest.raises(BatchTooLarge, match="maximum of 10 .*bytes"):
        require_at_most(b"\x0a\x00" * 1_000, 1, 10, item_bytes=10, items="subjects", message_type="X")
    with pytest.raises(BatchTooLarge, match="more than 10 subjects"):
        require_at_most(b"\x0a\x00" * 11, 1, 10, item_bytes=300, items="subjects", message_type="X")
    require_at_most(b"\x0a\x00" * 10, 1, 10, item_bytes=300, items="subjects", message_type="X")
