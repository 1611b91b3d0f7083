"""A subject as a request names it (raw value or client digest) and its storage key."""

from __future__ import annotations

from dataclasses import dataclass

from server.core.digest import DIGEST_SIZE, Digester, storage_key
from server.core.enums import EntityType
from server.core.errors import InvalidIdentifier, InvalidSubject
from server.core.identifiers import Normaliser


@dataclass(frozen=True, slots=True)
class Subject:
    """`entity_type` is the wire number (0 = unspecified); exactly one of value/digest is set."""

    entity_type: int
    value: str | None = None
    digest: bytes | None = None


class SubjectResolver:
    """Turns subjects into storage keys: normalise and digest raw values, check client digests."""

    __slots__ = ("_normaliser", "_digester")

    def __init__(self, normaliser: Normaliser, digester: Digester) -> None:
        self._normaliser = normaliser
        self._digester = digester

    def storage_key(self, subject: Subject) -> bytes:
        """The 17-byte key; raise InvalidSubject naming the field (type, value or digest)."""
        try:
            entity_type = EntityType(subject.entity_type)
        except ValueError:
            raise InvalidSubject(
                "type", f"entity type {subject.entity_type} is unspecified or unknown"
            ) from None
        if subject.digest is not None:
            if len(subject.digest) != DIGEST_SIZE:
                raise InvalidSubject(
                    "digest", f"a digest has {DIGEST_SIZE} bytes, not {len(subject.digest)}"
                )
            return storage_key(entity_type, subject.digest)
        if subject.value is None:
            raise InvalidSubject("id", "set either value (raw identifier) or digest")
        try:
            canonical = self._normaliser.normalise(entity_type, subject.value)
        except InvalidIdentifier as error:
            raise InvalidSubject("value", str(error)) from None
        return self._digester.storage_key(entity_type, canonical)
