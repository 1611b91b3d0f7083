"""Audit queries over real segment files: by subject, by partner, by time window, and the per-subject result."""

from __future__ import annotations

from pathlib import Path

import pytest

from risklist_kernel.enums import EntityType
from risklist_server.audit.query import BadQuery, Query, matching, parse_subject_key, subject_result
from risklist_server.audit.reader import SegmentProblem, read_directory, segment_paths
from risklist_server.audit.record import AuditRecord
from risklist_server.audit.trail import AuditTrail

PHONE_KEY = bytes([EntityType.PHONE]) + bytes(range(16))
CARD_KEY = bytes([EntityType.CARD]) + bytes(range(100, 116))
STRADDLING = CARD_KEY[9:] + PHONE_KEY[:9]
"""Bytes found inside CARD_KEY + PHONE_KEY, but not as either key: never a match."""
T0 = 1_760_000_000 * 10**9
SECOND = 10**9


def _records(directory: Path) -> list[AuditRecord]:
    """Every record of the directory, read back from its segments; damage would fail the test."""
    problems: list[SegmentProblem] = []
    records = list(read_directory(str(directory), problems.append))
    assert problems == []
    return records


@pytest.fixture()
def trail(tmp_path: Path) -> list[AuditRecord]:
    """Two processes' segments (a writer and a reader) with lookups, a refusal and an ingest."""
    reader = AuditTrail(str(tmp_path), "reader-1", segment_bytes=200)  # small: it rotates
    reader.append(T0, "bank-a", "Check", "a" * 24, "OK", PHONE_KEY, [0])
    reader.append(T0 + SECOND, "bank-b", "BatchCheck", "b" * 24, "OK", CARD_KEY + PHONE_KEY, [0])
    reader.append(T0 + 2 * SECOND, "bank-b", "Check", "c" * 24, "PERMISSION_DENIED", b"", [])
    reader.append(T0 + 3 * SECOND, "bank-a", "BatchCheck", "e" * 24, "OK", CARD_KEY + PHONE_KEY, [1])
    reader.close()
    writer = AuditTrail(str(tmp_path), "writer")
    writer.append(T0 + 4 * SECOND, "bank-c", "Ingest", "d" * 24, "OK", PHONE_KEY, [])
    writer.close()
    assert len(segment_paths(str(tmp_path))) >= 3  # the reader's segments rotated; the query spans files
    return _records(tmp_path)


def _ids(records: list[AuditRecord], query: Query) -> list[str]:
    return [record.request_id[0] for record in matching(records, query)]


def test_by_subject_every_call_that_named_it(trail: list[AuditRecord]) -> None:
    """A subject's key selects each call that named it, wherever in a batch, and nothing else."""
    assert sorted(_ids(trail, Query(key=PHONE_KEY))) == ["a", "b", "d", "e"]
    assert sorted(_ids(trail, Query(key=CARD_KEY))) == ["b", "e"]


def test_bytes_across_two_keys_are_not_a_subject(trail: list[AuditRecord]) -> None:
    """Bytes that only appear across the boundary of two keys in a batch match no record."""
    assert any(STRADDLING in record.keys for record in trail)
    assert _ids(trail, Query(key=STRADDLING)) == []


def test_by_partner_and_time_window(trail: list[AuditRecord]) -> None:
    """A partner's calls in [since, until): the start is included, the end is not; None leaves a side open."""
    assert sorted(_ids(trail, Query(partner="bank-b"))) == ["b", "c"]
    assert sorted(_ids(trail, Query(since_ns=T0 + SECOND, until_ns=T0 + 3 * SECOND))) == ["b", "c"]
    assert sorted(_ids(trail, Query(partner="bank-a", since_ns=T0 + SECOND))) == ["e"]
    assert sorted(_ids(trail, Query(key=PHONE_KEY, until_ns=T0 + SECOND))) == ["a"]
    assert sorted(_ids(trail, Query())) == ["a", "b", "c", "d", "e"]


def test_subject_result_says_hit_miss_ok_or_the_status(trail: list[AuditRecord]) -> None:
    """Per subject: hit if that subject was listed in the answer, miss if not, ok for a write, else the status."""
    results = {record.request_id[0]: record for record in trail}
    assert subject_result(results["a"], PHONE_KEY) == "hit"
    assert subject_result(results["b"], CARD_KEY) == "hit"
    assert subject_result(results["b"], PHONE_KEY) == "miss"
    assert subject_result(results["e"], PHONE_KEY) == "hit"
    assert subject_result(results["e"], CARD_KEY) == "miss"
    assert subject_result(results["c"], PHONE_KEY) == "PERMISSION_DENIED"
    assert subject_result(results["d"], PHONE_KEY) == "ok"


def test_subject_key_from_digest_and_type_or_storage_key() -> None:
    """A digest with its type and the 34-digit storage key name the same subject, in any case and padding."""
    digest = PHONE_KEY[1:].hex()
    assert parse_subject_key(f" {digest.upper()} ", "Phone") == PHONE_KEY
    assert parse_subject_key(PHONE_KEY.hex(), None) == PHONE_KEY
    assert parse_subject_key(PHONE_KEY.hex(), "phone") == PHONE_KEY


@pytest.mark.parametrize(("digest", "type_name", "says"), [
    ("zz" * 16, "phone", "not hexadecimal"),
    ("00" * 16, None, "needs --type"),
    ("00" * 16, "nickname", "--type: unknown value"),
    ("ff" + "00" * 16, None, "not an entity type byte"),
    (PHONE_KEY.hex(), "card", "contradicts the storage key's type byte (phone)"),
    ("00" * 10, "phone", "has 20 hex digits"),
])
def test_malformed_subjects_are_refused_saying_why(digest: str, type_name: str | None, says: str) -> None:
    """A malformed --digest/--type is a BadQuery whose message says what is wrong and what is accepted."""
    with pytest.raises(BadQuery) as refused:
        parse_subject_key(digest, type_name)
    assert says in str(refused.value)
