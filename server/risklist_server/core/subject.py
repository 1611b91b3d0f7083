"""A subject as a request names it (raw value or client digest) and its storage key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from risklist_kernel.digest import DIGEST_SIZE, Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser
from risklist_server.core.errors import InvalidSubject


class Subject(NamedTuple):
    """`entity_type` is the wire number (0 = unspecified); exactly one of value/digest is set.

    A named tuple: batches make a thousand of these per call, and a tuple is the cheapest.
    """

    entity_type: int
    value: str | None = None
    digest: bytes | None = None


_KEY_PREFIXES: dict[int, bytes] = {int(entity_type): bytes((entity_type,)) for entity_type in EntityType}
"""Storage-key type byte by wire number; unknown numbers are absent."""


class SubjectResolver:
    """Turns subjects into storage keys: normalise and digest raw values, check client digests."""

    __slots__ = ("_normaliser", "_digester")

    def __init__(self, normaliser: Normaliser, digester: Digester) -> None:
        self._normaliser = normaliser
        self._digester = digester

    def storage_keys(self, subjects: Sequence[Subject]) -> tuple[list[bytes], list[tuple[int, InvalidSubject]]]:
        """Keys of the valid subjects in order, and (index, error) of the invalid ones."""
        keys: list[bytes] = []
        errors: list[tuple[int, InvalidSubject]] = []
        prefixes = _KEY_PREFIXES
        for index, (entity_type, _, digest) in enumerate(subjects):
            # Client digests (the common case in bulk) take no call and no enum.
            if digest is not None and len(digest) == DIGEST_SIZE and (prefix := prefixes.get(entity_type)):
                keys.append(prefix + digest)
                continue
            try:
                keys.append(self.storage_key(subjects[index]))
            except InvalidSubject as error:
                errors.append((index, error))
        return keys, errors

    def storage_key(self, subject: Subject) -> bytes:
        """The 17-byte key; raise InvalidSubject naming the field (type, value or digest)."""
        prefix = _KEY_PREFIXES.get(subject.entity_type)
        if prefix is None:
            raise InvalidSubject("type", f"entity type {subject.entity_type} is unspecified or unknown")
        if subject.digest is not None:
            if len(subject.digest) != DIGEST_SIZE:
                raise InvalidSubject(
                    "digest", f"a digest has {DIGEST_SIZE} bytes, not {len(subject.digest)}"
                )
            return prefix + subject.digest
        entity_type = EntityType(subject.entity_type)
        if subject.value is None:
            raise InvalidSubject("id", "set either value (raw identifier) or digest")
        try:
            canonical = self._normaliser.normalise(entity_type, subject.value)
        except InvalidIdentifier as error:
            raise InvalidSubject("value", str(error)) from None
        return self._digester.storage_key(entity_type, canonical)
