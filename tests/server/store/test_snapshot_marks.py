"""Snapshot seen-marks: merged per (key, category), forgotten per source, and what a sweep removes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rocksdict import Rdict, WriteBatch

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.record import Contribution, Record, encode_record
from risklist_server.store.rocks import open_rocks
from risklist_server.store.snapshot_marks import SnapshotMarks, keys_holding

KEYS = sorted(bytes((1 + n % 5,)) + bytes([n]) * 16 for n in range(10))
CATEGORIES = [Category.GAMBLING, Category.MONEY_MULE, Category.IDENTITY_FRAUD]
SOURCES = ["bank", "bank-a"]  # one source's name is a prefix of the other's

marks_written = st.lists(
    st.tuples(st.sampled_from(SOURCES), st.dictionaries(st.sampled_from(KEYS), st.sets(st.sampled_from(CATEGORIES),
                                                                                       min_size=1))),
    max_size=6,
)


def _stage_seen(db: Rdict, marks: SnapshotMarks, source: str, seen: dict[bytes, set[Category]]) -> None:
    batch = WriteBatch(raw_mode=True)
    marks.stage_seen(batch, source, {key: sum(1 << c for c in categories) for key, categories in seen.items()})
    db.write(batch)


def _forget(db: Rdict, marks: SnapshotMarks, source: str) -> None:
    batch = WriteBatch(raw_mode=True)
    marks.stage_forget(batch, source)
    db.write(batch)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(marks_written, st.sampled_from(SOURCES) | st.none())
def test_marks_accumulate_per_source_and_forgetting_clears_only_that_source(
    writes: list[tuple[str, dict[bytes, set[Category]]]], forgotten: str | None
) -> None:
    """Each (source, key) holds the union of the categories marked so far; forgetting one source leaves the other's."""
    with tempfile.TemporaryDirectory() as directory:
        db = open_rocks(str(Path(directory) / "db"), create=True)
        marks = SnapshotMarks(db)
        try:
            model: dict[tuple[str, bytes], set[Category]] = {}
            for source, seen in writes:
                _stage_seen(db, marks, source, seen)
                for key, categories in seen.items():
                    model.setdefault((source, key), set()).update(categories)
            if forgotten is not None:
                _forget(db, marks, forgotten)
                model = {marked: categories for marked, categories in model.items() if marked[0] != forgotten}
            for source in SOURCES:
                assert marks.seen_categories(source, KEYS) == [frozenset(model.get((source, key), set()))
                                                               for key in KEYS]
        finally:
            marks.close()
            db.close()


def test_sweep_removes_the_sources_unmarked_contributions_only(tmp_path: Path) -> None:
    """A sweep drops the source's contributions whose category is unmarked; other sources and marked ones stay."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    marks = SnapshotMarks(db)

    def contribution(source: str, category: Category) -> Contribution:
        return Contribution(source, category, RiskLevel.LOW, 1, 2_000_000_000)

    stored: dict[bytes, Record] = {
        KEYS[0]: (contribution("bank", Category.GAMBLING), contribution("bank", Category.MONEY_MULE)),
        KEYS[1]: (contribution("bank", Category.GAMBLING),),
        KEYS[2]: (contribution("bank", Category.GAMBLING), contribution("other", Category.GAMBLING)),
        KEYS[3]: (contribution("bank-a", Category.GAMBLING),),
    }
    for key, record in stored.items():
        db[key] = encode_record(record)
    _stage_seen(db, marks, "bank", {KEYS[0]: {Category.GAMBLING}, KEYS[3]: {Category.GAMBLING}})
    holding = [key for chunk in keys_holding(db, "bank", 2) for key in chunk]
    assert set(holding) >= {KEYS[0], KEYS[1], KEYS[2]}
    after, swept = marks.sweep(db, "bank", holding)
    assert after == {
        KEYS[0]: (contribution("bank", Category.GAMBLING),),
        KEYS[1]: (),
        KEYS[2]: (contribution("other", Category.GAMBLING),),
    }
    assert swept == 3
    marks.close()
    db.close()


def test_keys_holding_come_in_chunks_in_key_order_and_skip_records_without_the_source(tmp_path: Path) -> None:
    """Candidates for a sweep arrive at most `chunk` at a time, in key order, never missing a record of the source."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    for number, key in enumerate(KEYS):
        source = "bank" if number % 3 else "other"
        db[key] = encode_record((Contribution(source, Category.GAMBLING, RiskLevel.LOW, 1, 2_000_000_000),))
    chunks = list(keys_holding(db, "bank", 2))
    assert all(1 <= len(chunk) <= 2 for chunk in chunks)
    assert [key for chunk in chunks for key in chunk] == [key for number, key in enumerate(KEYS) if number % 3]
    db.close()
