"""Mutations a feed row or an ingest call asks for, and how each changes a record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from risklist_kernel.enums import Category
from risklist_server.core.record import Contribution, Record


@dataclass(frozen=True, slots=True)
class Upsert:
    """Make `contribution` the source's contribution of its category to the subject at `key`."""

    key: bytes
    contribution: Contribution


@dataclass(frozen=True, slots=True)
class Removal:
    """Remove the source's contribution of `category` (every category when None) at `key`."""

    key: bytes
    source: str
    category: Category | None = None


Mutation = Upsert | Removal


@dataclass(slots=True)
class MutationCounts:
    """How applied mutations changed their records, one count per mutation (removed: per contribution)."""

    added: int = 0
    """Upserts that changed the record (a new contribution, or an updated one)."""
    unchanged: int = 0
    """Upserts of a contribution exactly as stored."""
    removed: int = 0
    """Contributions removals took away."""
    not_listed: int = 0
    """Removals that found nothing to remove."""


def apply_counted(record: Record, mutation: Mutation, counts: MutationCounts) -> Record:
    """The record after `mutation` (as apply_mutation), counting what it did into `counts`."""
    return apply_all_counted(record, (mutation,), counts)


def apply_all_counted(record: Record, mutations: Sequence[Mutation], counts: MutationCounts) -> Record:
    """The record after one write's `mutations` of its key, in order, counting what they did into `counts`.

    The one counting rule: the store's writes and the loader's bulk build both count through it. An
    upsert counts as added, or unchanged when the exact contribution is stored; a removal counts the
    contributions it takes (removed), or not_listed when it takes none. Within one write, an upsert
    that puts back exactly a contribution an earlier removal took counts as unchanged, and that
    contribution no longer counts as removed: a feed's "remove every category, then add one again"
    re-loaded over its own result counts nothing added and nothing removed.
    """
    taken: dict[Contribution, int] = {}
    """Contributions removals of this write took away -> the removal (index into `removed`)."""
    removed: list[int] = []
    for mutation in mutations:
        updated = apply_mutation(record, mutation)
        if isinstance(mutation, Upsert):
            remover = taken.pop(mutation.contribution, None)
            if updated == record:
                counts.unchanged += 1
            elif remover is not None:
                removed[remover] -= 1
                counts.unchanged += 1
            else:
                counts.added += 1
        else:
            gone = [contribution for contribution in record if contribution not in updated]
            taken.update(dict.fromkeys(gone, len(removed)))
            removed.append(len(gone))
        record = updated
    for count in removed:
        counts.removed += count
        counts.not_listed += count == 0
    return record


def apply_mutation(record: Record, mutation: Mutation) -> Record:
    """The record after `mutation`; the same tuple (by value) when nothing changes."""
    if isinstance(mutation, Upsert):
        identity = mutation.contribution.identity
        kept = [c for c in record if c.identity != identity]
        kept.append(mutation.contribution)
        return tuple(sorted(kept))
    return tuple(
        c
        for c in record
        if not (
            c.source == mutation.source
            and (mutation.category is None or c.category == mutation.category)
        )
    )


def without_source_except(record: Record, source: str, kept: frozenset[Category]) -> Record:
    """The record with the source's contributions outside `kept` removed (snapshot sweep)."""
    return tuple(c for c in record if c.source != source or c.category in kept)
