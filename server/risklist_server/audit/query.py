"""Which audit records answer "who searched for this subject, when" (or "what did this partner do")."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from risklist_kernel.digest import DIGEST_SIZE, KEY_SIZE
from risklist_kernel.enums import EntityType
from risklist_server.audit.record import AuditRecord

LOOKUP_METHODS = frozenset({"Check", "BatchCheck", "StreamCheck", "GetEntry"})
"""Methods whose records say, per subject, whether it was listed."""


class BadQuery(ValueError):
    """A query option is malformed: the message says which and what is accepted."""


@dataclass(frozen=True, slots=True)
class Query:
    """Records about `key` and/or by `partner`, with since <= time < until (ns; None: open)."""

    key: bytes | None = None
    partner: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None

    def matches(self, record: AuditRecord) -> bool:
        if self.since_ns is not None and record.time_ns < self.since_ns:
            return False
        if self.until_ns is not None and record.time_ns >= self.until_ns:
            return False
        if self.partner is not None and record.partner != self.partner:
            return False
        return self.key is None or record.index_of(self.key) is not None


def parse_subject_key(digest_hex: str, type_name: str | None) -> bytes:
    """The storage key from 32 hex digits and a type, or from 34 (type byte + digest); BadQuery if neither."""
    text = digest_hex.strip().lower()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise BadQuery(f"--digest {digest_hex!r} is not hexadecimal") from None
    if len(raw) == DIGEST_SIZE:
        if type_name is None:
            raise BadQuery(f"--digest of {2 * DIGEST_SIZE} hex digits needs --type "
                           f"({'|'.join(t.feed_name for t in EntityType)}), or give the "
                           f"{2 * KEY_SIZE}-digit storage key (type byte first)")
        return bytes((_entity_type(type_name),)) + raw
    if len(raw) == KEY_SIZE:
        try:
            entity_type = EntityType(raw[0])
        except ValueError:
            raise BadQuery(f"--digest {text[:2]}…: {raw[0]} is not an entity type byte "
                           f"(1-{max(EntityType)})") from None
        if type_name is not None and _entity_type(type_name) != entity_type:
            raise BadQuery(f"--type {type_name} contradicts the storage key's type byte ({entity_type.feed_name})")
        return raw
    raise BadQuery(f"--digest has {len(text)} hex digits; expected {2 * DIGEST_SIZE} (a digest, with --type) "
                   f"or {2 * KEY_SIZE} (a storage key)")


def _entity_type(name: str) -> EntityType:
    try:
        return EntityType.from_feed_name(name)
    except ValueError as error:
        raise BadQuery(f"--type: {error}") from None


def matching(records: Iterable[AuditRecord], query: Query) -> Iterator[AuditRecord]:
    """The records `query` selects, in the order given."""
    return (record for record in records if query.matches(record))


def subject_result(record: AuditRecord, key: bytes) -> str:
    """What the record says about `key`: hit or miss for an answered lookup, else its status."""
    if record.status != "OK":
        return record.status
    if record.method not in LOOKUP_METHODS:
        return "ok"
    keys = record.keys
    listed = any(keys[index * KEY_SIZE : (index + 1) * KEY_SIZE] == key for index in record.hits)
    return "hit" if listed else "miss"
