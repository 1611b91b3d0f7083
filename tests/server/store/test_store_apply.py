"""Working out a batch against the stored records (store.apply): after, changelog changes, marks, counts."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Mutation, MutationCounts, Removal, Upsert, apply_all_counted
from risklist_server.core.record import Contribution, Record, decode_record, encode_record
from risklist_server.store.apply import ApplyResult, apply_batch
from risklist_server.store.changelog import Change
from risklist_server.store.rocks import iter_items, open_rocks

KEYS = [bytes((1 + n % 7,)) + bytes([n]) * 16 for n in range(8)]
SOURCES = ["bank-a", "bank-b"]

contributions = st.builds(
    Contribution,
    source=st.sampled_from(SOURCES),
    category=st.sampled_from(list(Category)[:3]),
    level=st.sampled_from(list(RiskLevel)),
    reported_at=st.just(1_600_000_000),
    expires_at=st.just(2_000_000_000),
)
mutations: st.SearchStrategy[Mutation] = st.one_of(
    st.builds(Upsert, key=st.sampled_from(KEYS), contribution=contributions),
    st.builds(Removal, key=st.sampled_from(KEYS), source=st.sampled_from(SOURCES),
              category=st.none() | st.sampled_from(list(Category)[:3])),
)
stored_records = st.dictionaries(
    st.sampled_from(KEYS),
    st.lists(contributions, min_size=1, max_size=3, unique_by=lambda c: c.identity).map(lambda cs: tuple(sorted(cs))),
    max_size=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored_records, st.lists(mutations, min_size=1, max_size=10), st.booleans())
def test_batch_matches_dict_model_and_writes_nothing(
    stored: dict[bytes, Record], batch: list[Mutation], track: bool
) -> None:
    """The records after, the changed keys (first-touched order), upserted categories and counts (per key, as one
    write) match a dict model."""
    with tempfile.TemporaryDirectory() as directory:
        db = open_rocks(str(Path(directory) / "db"), create=True)
        try:
            for key, record in stored.items():
                db[key] = encode_record(record)
            applied = apply_batch(db, batch, track_upserts=track)
            model = dict(stored)
            counts = MutationCounts()
            upserted: dict[bytes, set[Category]] = {}
            touched = list(dict.fromkeys(mutation.key for mutation in batch))
            for key in touched:  # each key's mutations counted together, as one write
                model[key] = apply_all_counted(model.get(key, ()), [m for m in batch if m.key == key], counts)
            for mutation in batch:
                if isinstance(mutation, Upsert):
                    upserted.setdefault(mutation.key, set()).add(mutation.contribution.category)
            assert applied.after == {key: model[key] for key in touched}
            assert applied.changes == [Change(key, bool(model[key])) for key in touched
                                       if model[key] != stored.get(key, ())]
            assert applied.result == ApplyResult(counts.added, counts.unchanged, counts.removed, counts.not_listed)
            expected_marks = {key: sum(1 << c for c in categories) for key, categories in upserted.items()}
            assert applied.upserted == (expected_marks if track else {})
            assert {key: decode_record(value) for key, value in iter_items(db)} == stored
        finally:
            db.close()


def test_revision_sees_the_records_before_and_decides_the_mutations(tmp_path: Path) -> None:
    """The revision gets every touched key's stored record (empty when unlisted) and its mutations are applied."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    low = Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, 2_000_000_000)
    high = Contribution("bank-a", Category.GAMBLING, RiskLevel.HIGH, 1, 2_000_000_000)
    db[KEYS[0]] = encode_record((low,))
    seen: list[dict[bytes, Record]] = []

    def revise(before: Mapping[bytes, Record]) -> list[Mutation]:
        seen.append(dict(before))
        return [Upsert(KEYS[0], high)]

    applied = apply_batch(db, [Removal(KEYS[0], "bank-a"), Removal(KEYS[1], "bank-a")], revise=revise)
    assert seen == [{KEYS[0]: (low,), KEYS[1]: ()}]
    assert applied.after == {KEYS[0]: (high,), KEYS[1]: ()}
    assert applied.changes == [Change(KEYS[0], True)]
    assert (applied.result.added, applied.result.removed, applied.result.not_listed) == (1, 0, 0)
    db.close()


def test_refusing_revision_raises_before_anything_is_worked_out(tmp_path: Path) -> None:
    """A revision that raises ends the batch with its error."""
    db = open_rocks(str(tmp_path / "db"), create=True)

    def refuse(_: Mapping[bytes, Record]) -> list[Mutation]:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        apply_batch(db, [Removal(KEYS[0], "bank-a")], revise=refuse)
    db.close()


def test_results_merge_by_summing_counts_and_keeping_the_newest_version() -> None:
    """Merging batch results adds every count and keeps the highest list version."""
    total = ApplyResult(added=1, removed=2, version=5)
    total.merge(ApplyResult(added=3, unchanged=1, not_listed=4, swept=2, version=3))
    assert total == ApplyResult(added=4, unchanged=1, removed=2, not_listed=4, swept=2, version=5)


def test_removing_then_putting_back_the_same_contribution_counts_nothing_changed(tmp_path: Path) -> None:
    """A remove of every category and an add of what was stored, in one batch: unchanged, nothing removed, no change."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    kept = Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, 2_000_000_000)
    dropped = Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, 1, 2_000_000_000)
    db[KEYS[0]] = encode_record((kept,))
    db[KEYS[1]] = encode_record(tuple(sorted((kept, dropped))))
    applied = apply_batch(db, [Removal(KEYS[0], "bank-a"), Upsert(KEYS[0], kept),
                               Removal(KEYS[1], "bank-a"), Upsert(KEYS[1], kept)])
    assert applied.changes == [Change(KEYS[1], True)]
    assert applied.result == ApplyResult(added=0, unchanged=2, removed=1, not_listed=1)
    db.close()
