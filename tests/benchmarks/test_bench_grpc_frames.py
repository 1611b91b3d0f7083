"""gRPC frames for h2load request bodies: prefix layout and decoding back with the protobuf class."""

from __future__ import annotations

import pytest
from risklist.v1 import risklist_pb2 as pb

from benchmarks.grpc_frames import GRPC_HEADERS, PREFIX_SIZE, decode_frames, encode_frame, method_path


def test_frame_prefix_is_flag_zero_and_big_endian_length() -> None:
    """The first byte is 0 (uncompressed) and the next four are the body length, big-endian."""
    request = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="+8613800138000"))
    frame = encode_frame(request)
    body = request.SerializeToString()
    assert frame[0] == 0
    assert int.from_bytes(frame[1:PREFIX_SIZE], "big") == len(body)
    assert frame[PREFIX_SIZE:] == body


def test_frame_decodes_back_to_the_same_request() -> None:
    """Decoding the frame and parsing it with the protobuf class gives the original request."""
    request = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_CARD, digest=bytes(range(16))))
    (body,) = decode_frames(encode_frame(request))
    assert pb.CheckRequest.FromString(body) == request


def test_consecutive_frames_decode_in_order() -> None:
    """Several frames back to back (a stream's messages) come out in order, bytes passed as-is."""
    first = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_IP, value="203.0.113.7")])
    data = encode_frame(first) + encode_frame(b"") + encode_frame(b"\x01\x02")
    assert decode_frames(data) == [first.SerializeToString(), b"", b"\x01\x02"]


@pytest.mark.parametrize("data", [b"\x00\x00\x00", b"\x00\x00\x00\x00\x05abc", b"\x01\x00\x00\x00\x00"])
def test_cut_or_compressed_frames_are_refused(data: bytes) -> None:
    """A truncated prefix, a body shorter than declared, or a compressed flag raise ValueError."""
    with pytest.raises(ValueError):
        decode_frames(data)


def test_grpc_headers_and_path() -> None:
    """h2load gets gRPC's content type and te: trailers, and the method's HTTP/2 path."""
    assert "content-type: application/grpc" in GRPC_HEADERS
    assert "te: trailers" in GRPC_HEADERS
    assert method_path("risklist.v1.RiskList", "Check") == "/risklist.v1.RiskList/Check"
