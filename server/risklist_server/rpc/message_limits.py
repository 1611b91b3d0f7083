"""The largest message a legal request can be, measured on the wire encoding: grpc refuses bigger ones unread."""

from __future__ import annotations

from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.identifiers import MAX_RAW_LENGTH
from risklist_server.core.contribution_rules import MAX_REFERENCE_LENGTH

ADMIN_MAX_MUTATIONS = 100_000
"""The most mutations one Admin.Ingest message carries: risklist-load's --batch-size maximum (MAX_BATCH_SIZE)."""

MAX_SEND_BYTES = 64 * 1024 * 1024
"""What the server may send in one message; its own answers (a GetFilter chunk is 1 MiB), no caller's bytes."""

_ENVELOPE_BYTES = 64 * 1024
"""Slack for the request's other fields and encoding slop; small beside any batch."""

_LONGEST_TEXT = "\U0010ffff" * MAX_REFERENCE_LENGTH  # four bytes a character in UTF-8
_LATEST = {"seconds": 253_402_300_799, "nanos": 999_999_999}  # 9999-12-31T23:59:59.999999999Z


def _framed(size: int) -> int:
    """Bytes a repeated message field element of `size` bytes takes: tag, length varint, body."""
    return 1 + len(_varint(size)) + size


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _largest_subject() -> pb.Subject:
    return pb.Subject(type=pb.ENTITY_TYPE_EMAIL, value="x" * MAX_RAW_LENGTH)


def largest_subject_bytes() -> int:
    """A subject in BatchCheck, StreamCheck or Revoke: a raw value of MAX_RAW_LENGTH characters."""
    return _framed(_largest_subject().ByteSize())


def largest_report_bytes() -> int:
    """A Report: the largest subject, every field set, a reference of MAX_REFERENCE_LENGTH four-byte characters."""
    report = pb.Report(subject=_largest_subject(), category=pb.CATEGORY_OTHER, level=pb.RISK_LEVEL_CRITICAL,
                       reference=_LONGEST_TEXT)
    report.expires_at.seconds = _LATEST["seconds"]
    report.expires_at.nanos = _LATEST["nanos"]
    return _framed(report.ByteSize())


def largest_mutation_bytes() -> int:
    """An Admin.Ingest mutation: every field set, a 64-byte digest (digests are 16), the longest reference."""
    mutation = pb.Mutation(action=pb.MUTATION_ACTION_REMOVE, type=pb.ENTITY_TYPE_EMAIL, digest=b"\xff" * 64,
                           category=pb.CATEGORY_OTHER, level=pb.RISK_LEVEL_CRITICAL, reference=_LONGEST_TEXT)
    for stamp in (mutation.reported_at, mutation.expires_at):
        stamp.seconds = _LATEST["seconds"]
        stamp.nanos = _LATEST["nanos"]
    return _framed(mutation.ByteSize())


def partner_max_receive_bytes(max_batch: int) -> int:
    """The partner port's limit: a BatchCheck, StreamCheck message, Report or Revoke of `max_batch` items."""
    return max_batch * max(largest_subject_bytes(), largest_report_bytes()) + _ENVELOPE_BYTES


def admin_max_receive_bytes() -> int:
    """The admin port's limit: an Ingest message of ADMIN_MAX_MUTATIONS mutations."""
    return ADMIN_MAX_MUTATIONS * largest_mutation_bytes() + _ENVELOPE_BYTES
