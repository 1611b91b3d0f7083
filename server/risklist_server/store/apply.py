"""Applying a batch of mutations: the records before and after, the changelog's changes, the counts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rocksdict import Rdict

from risklist_server.core.mutation import Mutation, MutationCounts, Upsert, apply_all_counted
from risklist_server.core.record import Record, decode_record
from risklist_server.store.changelog import Change
from risklist_server.store.rocks import multi_get


@dataclass(slots=True)
class ApplyResult(MutationCounts):
    """What one or more applied batches did, row by row."""

    swept: int = 0
    version: int = 0
    """The list version just after the write (0 until something was applied)."""

    def merge(self, other: ApplyResult) -> None:
        self.added += other.added
        self.unchanged += other.unchanged
        self.removed += other.removed
        self.not_listed += other.not_listed
        self.swept += other.swept
        self.version = max(self.version, other.version)


Revision = Callable[[Mapping[bytes, Record]], Sequence[Mutation]]
"""Run under the write lock with the records before a write (by key): returns the mutations to apply
instead (for the same keys), or raises to refuse the whole write."""


@dataclass(frozen=True, slots=True)
class AppliedBatch:
    """A batch worked out against the stored records, ready for the writer to commit."""

    after: dict[bytes, Record]
    """Every touched key's record after the batch (empty: unlisted)."""
    changes: list[Change]
    """The keys whose record changed, in first-touched order (the changelog entry)."""
    upserted: dict[bytes, int]
    """Per upserted key, the bit set of its upserted categories (only when asked for)."""
    result: ApplyResult


def apply_batch(
    records: Rdict, mutations: Sequence[Mutation], *, revise: Revision | None = None, track_upserts: bool = False
) -> AppliedBatch:
    """Apply `mutations` in order to the records they touch, read from `records`; write nothing.

    Counts follow risklist_server.core.mutation.apply_all_counted, one key's mutations at a time.

    `revise` sees the records before and decides the final mutations. With `track_upserts`, the
    upserted (key, category) pairs are collected for a snapshot's seen-marks.
    """
    result = ApplyResult()
    keys = list(dict.fromkeys(mutation.key for mutation in mutations))
    stored = multi_get(records, keys)
    before = {key: (() if data is None else decode_record(data)) for key, data in zip(keys, stored, strict=True)}
    if revise is not None:
        mutations = revise(before)
    by_key: dict[bytes, list[Mutation]] = {}
    upserted: dict[bytes, int] = {}
    for mutation in mutations:
        by_key.setdefault(mutation.key, []).append(mutation)
        if track_upserts and isinstance(mutation, Upsert):
            upserted[mutation.key] = upserted.get(mutation.key, 0) | 1 << mutation.contribution.category
    after = dict(before)
    for key, steps in by_key.items():  # each key's mutations in order, counted as one write (apply_all_counted)
        after[key] = apply_all_counted(before[key], steps, result)
    changes = [Change(key, bool(after[key])) for key in keys if after[key] != before[key]]
    return AppliedBatch(after, changes, upserted, result)
