"""Shared by the column rules' tests (digit_identifiers, device_identifiers, iban_identifiers): a column of fields
as pass 1 holds it, what a rule decides of it, and the check that every field a rule decided is what the general
rules and FastRows.key make of it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from risklist_kernel.enums import EntityType
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.fast_rows import FastRows
from risklist_server.core.settings import Settings

FAST = FastRows(("action", "entity_type", "identifier"), Normaliser(), NetworkSecret(bytes(range(32))), Settings(),
                now=1_800_000_000)
NORMALISER = Normaliser()

Int64s = npt.NDArray[np.int64]
ColumnRule = Callable[[npt.NDArray[np.uint8], Int64s, Int64s, Int64s], tuple[npt.NDArray[np.bool_], list[bytes]]]
"""A column rule's signature (device_forms, iban_forms): buffer, field starts and ends, entity types."""


def column(fields: list[str]) -> tuple[npt.NDArray[np.uint8], Int64s, Int64s]:
    """`fields` joined by commas into one buffer, with each field's start and end in it."""
    data = ",".join(fields).encode("ascii")
    lengths = np.array([len(field) for field in fields], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
    buffer = np.frombuffer(data, dtype=np.uint8) if data else np.zeros(1, dtype=np.uint8)
    return buffer, starts, starts + lengths


def decided_by(rule: ColumnRule, fields: list[str], types: list[int]) -> tuple[list[bool], list[bytes]]:
    """What `rule` decides of `fields` (of `types`) laid out as one column, as lists."""
    buffer, starts, ends = column(fields)
    decided, canonicals = rule(buffer, starts, ends, np.array(types, dtype=np.int64))
    return decided.tolist(), canonicals


def assert_decided_as_the_rules_say(fields: list[str], types: list[int], decided: list[bool],
                                    canonicals: list[bytes]) -> None:
    """Each decided field's canonical text is normalise_general's, and its storage key FastRows.key's."""
    assert len(canonicals) == sum(decided)
    picked = iter(canonicals)
    for field, type_value, was_decided in zip(fields, types, decided, strict=True):
        if not was_decided:
            continue
        entity_type = EntityType(type_value)
        canonical = next(picked)
        try:
            general = NORMALISER.normalise_general(entity_type, field)
        except InvalidIdentifier as error:
            raise AssertionError(f"{field!r} ({entity_type.feed_name}) decided as {canonical!r}: {error}") from None
        assert canonical.decode() == general, field
        assert FAST.keys_of_canonical([int(entity_type)], [canonical]) == FAST.key(entity_type, field)


def assert_rule_decides_only_as_the_rules_say(rule: ColumnRule, entity_type: EntityType,
                                              rows: list[tuple[str, int]]) -> None:
    """`rule` over (field, entity type) rows decides fields of `entity_type` only, each as the general rules and
    FastRows.key make of it."""
    fields, types = [field for field, _ in rows], [type_value for _, type_value in rows]
    decided, canonicals = decided_by(rule, fields, types)
    assert all(type_value == int(entity_type) for type_value, was in zip(types, decided, strict=True) if was)
    assert_decided_as_the_rules_say(fields, types, decided, canonicals)
