"""Subjects: a raw value and a client digest resolve to one storage key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.errors import InvalidSubject
from risklist_server.core.subject import Subject, SubjectResolver

DIGESTER = Digester(NetworkSecret(bytes(range(32))))
RESOLVER = SubjectResolver(Normaliser(), DIGESTER)


def test_raw_value_and_its_digest_give_the_same_key() -> None:
    """A raw phone and the digest a bank computed of its canonical form resolve identically."""
    digest = DIGESTER.digest(EntityType.PHONE, "+8613800138000")
    from_raw = RESOLVER.storage_key(Subject(EntityType.PHONE, value="138 0013 8000"))
    from_digest = RESOLVER.storage_key(Subject(EntityType.PHONE, digest=digest))
    assert from_raw == from_digest == bytes((EntityType.PHONE,)) + digest


@pytest.mark.parametrize(
    ("subject", "field"),
    [
        (Subject(0, value="138 0013 8000"), "type"),
        (Subject(99, value="138 0013 8000"), "type"),
        (Subject(EntityType.PHONE), "id"),
        (Subject(EntityType.PHONE, digest=bytes(15)), "digest"),
        (Subject(EntityType.PHONE, value="12345"), "value"),
    ],
)
def test_unusable_subject_names_the_field(subject: Subject, field: str) -> None:
    """A bad type, no id, a short digest or a bad value is an InvalidSubject naming the field."""
    with pytest.raises(InvalidSubject) as caught:
        RESOLVER.storage_key(subject)
    assert caught.value.field == field


subjects = st.builds(
    Subject,
    st.integers(-1, 9),
    st.none() | st.sampled_from(["138 0013 8000", "192.0.2.7", "a@example.com", "", "12345"]),
    st.none() | st.binary(min_size=0, max_size=20),
)


@settings(max_examples=300)
@given(st.lists(subjects, max_size=20))
def test_batch_resolution_matches_one_by_one(batch: list[Subject]) -> None:
    """storage_keys gives the same keys and the same errors, at the same indexes, as storage_key one by one."""
    expected_keys: list[bytes] = []
    expected_errors: list[tuple[int, str, str]] = []
    for index, subject in enumerate(batch):
        try:
            expected_keys.append(RESOLVER.storage_key(subject))
        except InvalidSubject as error:
            expected_errors.append((index, error.field, error.reason))
    keys, errors = RESOLVER.storage_keys(batch)
    assert keys == expected_keys
    assert [(index, error.field, error.reason) for index, error in errors] == expected_errors
