"""LookupService without a network: expiry, raw vs digest, violations."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_server.core.errors import BatchTooLarge, InvalidSubjects
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.services.lookup import LookupService
from risklist_server.store.risk_store import RiskStore


def test_expired_contributions_never_count(store: RiskStore, digester: Digester) -> None:
    """Once every contribution has expired the subject is not listed; a live one still counts."""
    key = digester.storage_key(EntityType.EMAIL, "mule@example.com")
    store.apply([
        Upsert(key, Contribution("bank-a", Category.MONEY_MULE, RiskLevel.CRITICAL, 100, 1_000)),
        Upsert(key, Contribution("bank-b", Category.GAMBLING, RiskLevel.LOW, 100, 2_000)),
    ])
    resolver = SubjectResolver(Normaliser(), digester)
    subject = Subject(int(EntityType.EMAIL), value="Mule@Example.com")
    at_500 = LookupService(store, resolver, max_batch=10, clock=lambda: 500).check(subject)[0]
    at_1500 = LookupService(store, resolver, max_batch=10, clock=lambda: 1500).check(subject)[0]
    at_2500 = LookupService(store, resolver, max_batch=10, clock=lambda: 2500).check(subject)[0]
    assert (at_500.level, at_500.source_count) == (RiskLevel.CRITICAL, 2)
    assert (at_1500.level, at_1500.source_count, at_1500.categories) == (RiskLevel.LOW, 1, (Category.GAMBLING,))
    assert not at_2500.listed
    hits, _ = LookupService(store, resolver, max_batch=10, clock=lambda: 2500).check_batch([subject])
    assert hits == []


def test_batch_limit_and_violations(lookup: LookupService) -> None:
    """Too many subjects raise BatchTooLarge; invalid ones are all named, with their index."""
    with pytest.raises(BatchTooLarge):
        lookup.check_batch([Subject(int(EntityType.IP), value="192.0.2.1")] * 101)
    with pytest.raises(InvalidSubjects) as caught:
        lookup.check_batch([Subject(int(EntityType.IP), value="192.0.2.1"), Subject(99, value="x"),
                            Subject(int(EntityType.IP))])
    assert [field for field, _ in caught.value.violations] == ["subjects[1].type", "subjects[2].id"]


_LISTED = [bytes((1 + n % 7,)) + bytes([n, 200 - n]) * 8 for n in range(40)]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_LISTED), st.binary(min_size=16, max_size=16).map(lambda d: b"\x03" + d)),
                max_size=60))
def test_packed_keys_answer_exactly_like_separate_keys(store: RiskStore, digester: Digester, keys: list[bytes]) -> None:
    """check_packed (an all-digest request's keys, concatenated) gives the hits and indexes check_keys gives."""
    if not store.has_records():
        store.apply([Upsert(key, Contribution(f"bank-{n % 3}", Category.OTHER, RiskLevel.HIGH, 100, 4_000_000_000))
                     for n, key in enumerate(_LISTED[::2])])
    lookup = LookupService(store, SubjectResolver(Normaliser(), digester), max_batch=100)
    assert lookup.check_packed(b"".join(keys)) == lookup.check_keys(keys)
    assert store.lookup_packed(b"".join(keys)) == [
        (index, record) for index, record in enumerate(store.lookup_many(keys)) if record is not None]
