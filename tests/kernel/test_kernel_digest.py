"""Keyed BLAKE2b digests and storage keys (server/core/digest.py)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.digest import DIGEST_SIZE, KEY_SIZE, PERSONALISATION, Digester, storage_key
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret

SECRETS = st.binary(min_size=32, max_size=64).map(NetworkSecret)
CANONICAL = st.text(min_size=1, max_size=64)
TYPES = st.sampled_from(list(EntityType))
PROPERTY = settings(max_examples=100, deadline=None)


@PROPERTY
@given(secret=SECRETS, entity_type=TYPES, canonical=CANONICAL)
def test_digest_is_stable_and_matches_plain_hashlib(
    secret: NetworkSecret, entity_type: EntityType, canonical: str
) -> None:
    """The same input always gives the same 16 bytes, equal to a plain hashlib.blake2b call."""
    first = Digester(secret).digest(entity_type, canonical)
    again = Digester(NetworkSecret(secret.key)).digest(entity_type, canonical)
    expected = hashlib.blake2b(
        canonical.encode("utf-8"),
        digest_size=16,
        key=secret.key,
        person=f"rl1:{entity_type.name.lower()}".encode(),
    ).digest()
    assert first == again == expected
    assert len(first) == DIGEST_SIZE


@PROPERTY
@given(
    secret=SECRETS, types=st.lists(TYPES, min_size=2, max_size=2, unique=True), canonical=CANONICAL
)
def test_different_types_give_different_digests(
    secret: NetworkSecret, types: list[EntityType], canonical: str
) -> None:
    """The same canonical text under two entity types digests differently (personalisation)."""
    digester = Digester(secret)
    assert digester.digest(types[0], canonical) != digester.digest(types[1], canonical)


@PROPERTY
@given(
    secrets=st.lists(st.binary(min_size=32, max_size=64), min_size=2, max_size=2, unique=True),
    entity_type=TYPES,
    canonical=CANONICAL,
)
def test_different_secrets_give_different_digests(
    secrets: list[bytes], entity_type: EntityType, canonical: str
) -> None:
    """Two networks (two secrets) never share digests of the same identifier."""
    first, second = (Digester(NetworkSecret(key)) for key in secrets)
    assert first.digest(entity_type, canonical) != second.digest(entity_type, canonical)


@PROPERTY
@given(
    secret=SECRETS,
    entity_type=TYPES,
    canonicals=st.lists(CANONICAL, min_size=2, max_size=2, unique=True),
)
def test_different_identifiers_give_different_digests(
    secret: NetworkSecret, entity_type: EntityType, canonicals: list[str]
) -> None:
    """Distinct canonical forms of one type give distinct digests."""
    digester = Digester(secret)
    assert digester.digest(entity_type, canonicals[0]) != digester.digest(
        entity_type, canonicals[1]
    )


def test_personalisation_is_rl1_and_the_feed_name() -> None:
    """Each type's personalisation is b'rl1:' + its feed name and fits BLAKE2b's 16 bytes."""
    assert {t: b"rl1:" + t.feed_name.encode() for t in EntityType} == PERSONALISATION
    assert all(len(person) <= hashlib.blake2b.PERSON_SIZE for person in PERSONALISATION.values())


@PROPERTY
@given(secret=SECRETS, entity_type=TYPES, canonical=CANONICAL)
def test_storage_key_is_type_byte_then_digest(
    secret: NetworkSecret, entity_type: EntityType, canonical: str
) -> None:
    """A storage key is 17 bytes: the entity-type number, then the digest."""
    digester = Digester(secret)
    key = digester.storage_key(entity_type, canonical)
    assert len(key) == KEY_SIZE
    assert key[0] == entity_type.value
    assert key[1:] == digester.digest(entity_type, canonical)
    assert storage_key(entity_type, key[1:]) == key


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_storage_key_rejects_a_digest_of_the_wrong_size(size: int) -> None:
    """Only 16-byte digests make storage keys."""
    with pytest.raises(ValueError, match="16 bytes"):
        storage_key(EntityType.PHONE, bytes(size))
