"""gRPC length-prefixed message frames, for request bodies a non-gRPC load generator sends."""

from __future__ import annotations

import struct

from google.protobuf.message import Message

_PREFIX = struct.Struct(">BI")  # compressed flag, message length (big-endian)
PREFIX_SIZE = _PREFIX.size

GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")
"""The request headers a gRPC server requires of a plain HTTP/2 client."""


def encode_frame(message: Message | bytes) -> bytes:
    """One uncompressed gRPC frame: flag 0, 4-byte big-endian length, the serialized message."""
    body = message if isinstance(message, bytes) else message.SerializeToString()
    return _PREFIX.pack(0, len(body)) + body


def decode_frames(data: bytes) -> list[bytes]:
    """The message bodies of consecutive frames; raise ValueError on a compressed or cut frame."""
    bodies: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < PREFIX_SIZE:
            raise ValueError(f"truncated frame prefix at byte {offset}")
        flag, length = _PREFIX.unpack_from(data, offset)
        if flag != 0:
            raise ValueError(f"compressed frame at byte {offset} (flag {flag}) is not supported")
        start = offset + PREFIX_SIZE
        if len(data) - start < length:
            raise ValueError(f"frame at byte {offset} declares {length} bytes, {len(data) - start} remain")
        bodies.append(data[start : start + length])
        offset = start + length
    return bodies


def method_path(service: str, method: str) -> str:
    """The HTTP/2 :path of a gRPC method, e.g. /risklist.v1.RiskList/Check."""
    return f"/{service}/{method}"
