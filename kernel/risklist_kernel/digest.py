"""Keyed BLAKE2b-128 digests of canonical identifiers, and the storage keys built on them."""

from __future__ import annotations

import hashlib

from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret

DIGEST_SIZE = 16
KEY_SIZE = 1 + DIGEST_SIZE
"""Storage key: one entity-type byte, then the 16-byte digest."""

PERSONALISATION: dict[EntityType, bytes] = {
    entity_type: f"rl1:{entity_type.feed_name}".encode() for entity_type in EntityType
}
"""BLAKE2b personalisation per entity type (≤ 16 bytes), e.g. b'rl1:phone'."""


class Digester:
    """Computes digests under one network secret; cheap to call, safe to share between threads."""

    __slots__ = ("_templates",)

    def __init__(self, secret: NetworkSecret) -> None:
        self._templates = {
            entity_type: hashlib.blake2b(digest_size=DIGEST_SIZE, key=secret.key, person=person)
            for entity_type, person in PERSONALISATION.items()
        }

    def digest(self, entity_type: EntityType, canonical: str) -> bytes:
        """The 16-byte digest of a canonical identifier (see identifiers.Normaliser)."""
        hasher = self._templates[entity_type].copy()
        hasher.update(canonical.encode("utf-8"))
        return hasher.digest()

    def storage_key(self, entity_type: EntityType, canonical: str) -> bytes:
        """The 17-byte storage key of a canonical identifier."""
        return storage_key(entity_type, self.digest(entity_type, canonical))


def storage_key(entity_type: EntityType, digest: bytes) -> bytes:
    """Type byte + digest; raise ValueError if the digest is not 16 bytes."""
    if len(digest) != DIGEST_SIZE:
        raise ValueError(f"a digest has {DIGEST_SIZE} bytes, not {len(digest)}")
    return bytes((entity_type,)) + digest
