"""The audit record codec: round trip, torn tails and damaged records."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from risklist_server.audit.record import AuditRecord, Damage, encode_record, iter_frames
from tests.support.audit_format import format_1_frame, frame

KEYS = st.lists(st.binary(min_size=17, max_size=17), max_size=50).map(b"".join)
TEXT = st.text(max_size=40)
RECORDS = st.builds(
    AuditRecord, time_ns=st.integers(0, 2**64 - 1), partner=TEXT, method=TEXT, request_id=TEXT, status=TEXT,
    keys=KEYS, hits=st.lists(st.integers(0, 2**32 - 1), max_size=20).map(tuple), source=TEXT,
    unrecorded=st.integers(0, 2**32 - 1), unrecorded_at_least=st.booleans(), received=st.booleans(),
)



def _records(data: bytes) -> list[AuditRecord]:
    return [item[1] for item in iter_frames(data) if not isinstance(item, Damage)]


def _damage(data: bytes) -> list[Damage]:
    return [item for item in iter_frames(data) if isinstance(item, Damage)]


@given(st.lists(RECORDS, max_size=8))
def test_records_round_trip(records: list[AuditRecord]) -> None:
    """Any sequence of records reads back exactly, in order, with no damage reported."""
    data = b"".join(map(encode_record, records))
    assert _records(data) == records
    assert _damage(data) == []


@given(st.lists(RECORDS, min_size=1, max_size=5), st.data())
def test_torn_tail_is_reported_and_earlier_records_kept(records: list[AuditRecord], data: st.DataObject) -> None:
    """A last record cut short anywhere is one torn-tail damage; every earlier record survives."""
    frames = [encode_record(record) for record in records]
    cut = data.draw(st.integers(1, len(frames[-1]) - 1))
    torn = b"".join(frames[:-1]) + frames[-1][:cut]
    assert _records(torn) == records[:-1]
    [damage] = _damage(torn)
    assert damage.torn_tail and damage.offset == sum(map(len, frames[:-1]))


@given(st.lists(RECORDS, min_size=3, max_size=6), st.data())
def test_a_damaged_record_is_skipped_and_the_rest_read(records: list[AuditRecord], data: st.DataObject) -> None:
    """Flipping a byte of one middle record loses that record only, reported with its offset."""
    frames = [encode_record(record) for record in records]
    victim = data.draw(st.integers(1, len(frames) - 2))
    position = data.draw(st.integers(0, len(frames[victim]) - 1))
    damaged = bytearray(frames[victim])
    damaged[position] ^= 0xFF
    blob = b"".join(frames[:victim]) + bytes(damaged) + b"".join(frames[victim + 1 :])
    assert _records(blob) == records[:victim] + records[victim + 1 :]
    [damage] = _damage(blob)
    assert damage.offset == sum(map(len, frames[:victim])) and not damage.torn_tail


def test_keys_are_stored_raw_not_as_hex() -> None:
    """A 1000-key record costs about 17 bytes per key (type byte + digest), plus a small header."""
    record = AuditRecord(1, "bank-a", "BatchCheck", "ab" * 12, "OK", bytes(17) * 1000, (3, 7))
    assert 17_000 < len(encode_record(record)) < 17_100


def test_crc_covers_the_length() -> None:
    """A frame whose length field is altered is damage, not a shorter record."""
    frame = bytearray(encode_record(AuditRecord(1, "p", "Check", "r", "OK", bytes(17))))
    frame[2] -= 1
    assert _records(bytes(frame)) == [] and len(_damage(bytes(frame))) >= 1


def test_index_of_respects_key_boundaries() -> None:
    """A key found only across two stored keys' boundary is not a match."""
    first, second = bytes(range(17)), bytes(range(17, 34))
    record = AuditRecord(1, "p", "BatchCheck", "r", "OK", first + second)
    assert record.index_of(second) == 1
    assert record.index_of(first[5:] + second[:5]) is None


@given(st.lists(RECORDS.map(lambda record: AuditRecord(record.time_ns, record.partner, record.method,
                                                        record.request_id, record.status, record.keys, record.hits)),
                max_size=5))
def test_format_1_records_are_still_read(records: list[AuditRecord]) -> None:
    """Segments written in format 1 read back as records without source or unrecorded subjects."""
    data = b"".join(map(format_1_frame, records))
    assert _records(data) == records
    assert all(record.source == "" and record.unrecorded == 0 and record.received for record in _records(data))


def test_a_refused_batch_is_a_small_record_with_its_count() -> None:
    """A million subjects refused unread cost the record a count, not 17 MB of keys."""
    record = AuditRecord(1, "bank-a", "BatchCheck", "ab" * 12, "INVALID_ARGUMENT", b"", unrecorded=1_000_000)
    frame = encode_record(record)
    assert len(frame) < 100 and _records(frame) == [record]


def test_an_unknown_format_or_flag_is_damage_naming_it() -> None:
    """A checked frame of a newer format, or with flags this reader does not know, is reported, not misread."""
    newer = frame(struct.pack("<BQ", 3, 1) + bytes(40))
    [damage] = _damage(newer)
    assert "unknown record format 3" in damage.reason and not damage.torn_tail
    good = bytearray(encode_record(AuditRecord(1, "p", "Check", "r", "OK", bytes(17))))
    body = good[10:]
    flags_at = 1 + 8 + 4 * 2 + len("Check") + len("OK") + len("p") + len("r") + 2  # after the five texts
    body[flags_at] = 0x80
    [damage] = _damage(frame(bytes(body)))
    assert "unknown record flags 0x80" in damage.reason
