"""Record encoding round trip and damaged-value handling."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.contribution_rules import MAX_REFERENCE_LENGTH
from risklist_server.core.errors import InvalidRecord
from risklist_server.core.expiry import has_expired
from risklist_server.core.record import Contribution, decode_record, encode_record, holds_expired

TIMES = st.integers(min_value=-(2**62), max_value=2**62)
SOURCES = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,63}", fullmatch=True)
REFERENCES = st.text(max_size=MAX_REFERENCE_LENGTH)


def contributions(
    references: st.SearchStrategy[str] = REFERENCES,
) -> st.SearchStrategy[Contribution]:
    """Arbitrary contributions with sources that match the source-id rule."""
    return st.builds(
        Contribution,
        source=SOURCES,
        category=st.sampled_from(list(Category)),
        level=st.sampled_from(list(RiskLevel)),
        reported_at=TIMES,
        expires_at=TIMES,
        reference=references,
    )


RECORDS = st.lists(contributions(), max_size=6, unique_by=lambda c: c.identity).map(
    lambda items: tuple(sorted(items))
)


@settings(max_examples=200, deadline=None)
@given(record=RECORDS)
def test_encode_decode_round_trip(record: tuple[Contribution, ...]) -> None:
    """decode_record(encode_record(r)) == r for every record."""
    assert decode_record(encode_record(record)) == record


@settings(max_examples=100, deadline=None)
@given(record=RECORDS.filter(bool), data=st.data())
def test_truncated_record_raises_invalid_record(
    record: tuple[Contribution, ...], data: st.DataObject
) -> None:
    """Every strict prefix of an encoded record is rejected with InvalidRecord."""
    encoded = encode_record(record)
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    with pytest.raises(InvalidRecord):
        decode_record(encoded[:cut])


@settings(max_examples=100, deadline=None)
@given(record=RECORDS, extra=st.binary(min_size=1, max_size=8))
def test_trailing_bytes_raise_invalid_record(
    record: tuple[Contribution, ...], extra: bytes
) -> None:
    """Bytes after the last contribution make the record invalid."""
    with pytest.raises(InvalidRecord, match="trailing"):
        decode_record(encode_record(record) + extra)


@settings(max_examples=500, deadline=None)
@given(garbage=st.binary(max_size=80))
def test_garbage_raises_invalid_record_or_decodes(garbage: bytes) -> None:
    """Arbitrary bytes decode to a record that re-encodes identically, or raise InvalidRecord."""
    try:
        record = decode_record(garbage)
    except InvalidRecord:
        return
    assert encode_record(record) == garbage


@settings(max_examples=200, deadline=None)
@given(record=RECORDS.filter(bool), data=st.data())
def test_corrupted_enum_or_text_bytes_raise_invalid_record_or_decode(
    record: tuple[Contribution, ...], data: st.DataObject
) -> None:
    """Flipping one byte never raises anything but InvalidRecord."""
    encoded = bytearray(encode_record(record))
    index = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[index] = data.draw(st.integers(min_value=0, max_value=255))
    with contextlib.suppress(InvalidRecord):
        decode_record(bytes(encoded))


def test_unknown_version_is_rejected() -> None:
    """A value written by a future format version is refused with a clear message."""
    encoded = bytearray(encode_record(()))
    encoded[0] = 2
    with pytest.raises(InvalidRecord, match="version 2 is not supported"):
        decode_record(bytes(encoded))


def test_empty_record_round_trips() -> None:
    """The empty record (not listed) encodes to the 3-byte header and back."""
    assert decode_record(encode_record(())) == ()
    assert len(encode_record(())) == 3


def test_contribution_is_live_until_it_expires() -> None:
    """A contribution counts strictly before expires_at and not at or after it."""
    contribution = Contribution("bank", Category.OTHER, RiskLevel.LOW, 100, 200)
    assert contribution.is_live(199)
    assert not contribution.is_live(200)
    assert not contribution.is_live(201)


def test_longest_allowed_reference_round_trips() -> None:
    """A reference of MAX_REFERENCE_LENGTH characters of any script survives encoding."""
    reference = "\U0001f600" * MAX_REFERENCE_LENGTH
    contribution = Contribution("bank", Category.OTHER, RiskLevel.LOW, 0, 1, reference)
    assert decode_record(encode_record((contribution,))) == (contribution,)


def _decoded_expiry(data: bytes, now: int) -> bool | str:
    """The general path's answer: whether a contribution expired at `now`, or the error it raises."""
    try:
        return has_expired(decode_record(data), now)
    except InvalidRecord as error:
        return f"InvalidRecord: {error}"


def _read_expiry(data: bytes, now: int) -> bool | str:
    """holds_expired's answer, in the same terms."""
    try:
        return holds_expired(data, now)
    except InvalidRecord as error:
        return f"InvalidRecord: {error}"


@settings(max_examples=300, deadline=None)
@given(record=RECORDS, now=TIMES)
def test_reading_expiry_from_the_bytes_agrees_with_decoding(record: tuple[Contribution, ...], now: int) -> None:
    """The sweep's check on the bytes says what decoding the record says, at any time."""
    assert holds_expired(encode_record(record), now) is has_expired(record, now)
    for contribution in record:
        for moment in (contribution.expires_at - 1, contribution.expires_at, contribution.expires_at + 1):
            assert holds_expired(encode_record(record), moment) is has_expired(record, moment)


@settings(max_examples=500, deadline=None)
@given(record=RECORDS, data=st.data(), now=TIMES)
def test_reading_expiry_from_damaged_bytes_fails_as_decoding_does(
    record: tuple[Contribution, ...], data: st.DataObject, now: int
) -> None:
    """A changed, cut or lengthened record gives the same answer or the same InvalidRecord as decoding it."""
    encoded = bytearray(encode_record(record))
    change = data.draw(st.sampled_from(["flip", "cut", "extend"]))
    if change == "flip" and encoded:
        index = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
        encoded[index] = data.draw(st.integers(min_value=0, max_value=255))
    elif change == "cut" and encoded:
        del encoded[data.draw(st.integers(min_value=0, max_value=len(encoded) - 1)):]
    else:
        encoded += data.draw(st.binary(min_size=1, max_size=8))
    assert _read_expiry(bytes(encoded), now) == _decoded_expiry(bytes(encoded), now)


@settings(max_examples=500, deadline=None)
@given(garbage=st.binary(max_size=80), now=TIMES)
def test_reading_expiry_from_garbage_fails_as_decoding_does(garbage: bytes, now: int) -> None:
    """Arbitrary bytes give the same answer or the same InvalidRecord as decoding them."""
    assert _read_expiry(garbage, now) == _decoded_expiry(garbage, now)
