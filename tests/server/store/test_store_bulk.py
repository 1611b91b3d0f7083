"""risklist_server.store.bulk and RiskStore.bulk_ingest: SST files, changelog entries and fronts for many keys."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from rocksdict import Rdict

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution, encode_record
from risklist_server.store.bulk import (
    SstWriter,
    bulk_dir,
    changelog_values,
    remove_bulk_dirs,
)
from risklist_server.store.changelog import decode_changes
from risklist_server.store.front import BloomFront, front_words_for, tile_words
from risklist_server.store.risk_store import RiskStore
from risklist_server.store.rocks import records_options

FINGERPRINT = "bulk-test"
CONTRIBUTION = Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, 1_700_000_000, 1_900_000_000, "case")


def random_keys(count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    return sorted(bytes((1 + n % 7,)) + raw[n].tobytes() for n in range(count))


def as_array(keys: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 17)


def test_changelog_values_list_every_key_in_entries_of_bounded_size() -> None:
    """Encoded entries decode to every key, listed, in order, at most per_entry keys each."""
    keys = random_keys(2500, 1)
    values = list(changelog_values(as_array(keys), per_entry=1000))
    assert len(values) == 3
    decoded = [change for value in values for change in decode_changes(value)]
    assert [change.key for change in decoded] == keys
    assert all(change.listed for change in decoded)


def test_front_words_for_sets_the_bits_add_sets() -> None:
    """The vectorised fill has exactly the bits BloomFront.add sets, key by key."""
    keys = random_keys(5000, 2) + random_keys(10, 2)  # repeated keys hit the same words
    built = BloomFront.for_capacity(10_000, 16)
    front_words_for(as_array(keys), built.words_view())
    reference = BloomFront.for_capacity(10_000, 16)
    reference.add_many(keys)
    assert built.to_bytes() == reference.to_bytes()


def test_tiled_words_of_a_smaller_front_keep_its_keys() -> None:
    """A bigger front tiled from a smaller one still answers maybe for every key of both."""
    old = random_keys(3000, 3)
    base = BloomFront.for_capacity(1000, 16)
    base.add_many(old)
    new = random_keys(3000, 4)
    grown = BloomFront.for_capacity(200_000, 16)
    assert grown.word_count > base.word_count
    tile_words(base.words_view(), grown.words_view())
    front_words_for(as_array(new), grown.words_view())
    assert all(grown.might_contain(key) for key in old + new)


def test_sst_writer_rolls_files_in_key_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records go to several files when there are many; together they hold every record."""
    monkeypatch.setattr("risklist_server.store.bulk.SST_TARGET_ENTRIES", 400)
    writer = SstWriter(tmp_path)
    keys = random_keys(1000, 5)
    for key in keys:
        writer.put(key, encode_record((CONTRIBUTION,)))
    paths = writer.finish()
    assert len(paths) == 3 and all(path.stat().st_size > 0 for path in paths)


def test_put_many_rolls_files_where_put_one_by_one_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of records put at once, between single puts, land in the same files with the same contents."""
    monkeypatch.setattr("risklist_server.store.bulk.SST_TARGET_ENTRIES", 400)
    keys = random_keys(1000, 7)
    values = [encode_record((CONTRIBUTION,)) + key for key in keys]
    one_by_one, in_runs = SstWriter(tmp_path / "one"), SstWriter(tmp_path / "runs")
    (tmp_path / "one").mkdir()
    (tmp_path / "runs").mkdir()
    for key, value in zip(keys, values, strict=True):
        one_by_one.put(key, value)
    for first, last in ((0, 0), (0, 399), (399, 400), (400, 401), (401, 950), (950, 951), (951, 1000)):
        if last - first == 1 and first % 2:
            in_runs.put(keys[first], values[first])
        else:
            in_runs.put_many(keys[first:last], values[first:last])
    expected, written = one_by_one.finish(), in_runs.finish()
    assert [path.name for path in written] == [path.name for path in expected]
    assert [_records(path, tmp_path) for path in written] == [_records(path, tmp_path) for path in expected]
    assert [len(_records(path, tmp_path)) for path in written] == [400, 400, 200]


def _records(path: Path, scratch: Path) -> list[tuple[bytes, bytes]]:
    """The (key, value) pairs an SST file holds, read back by ingesting it into a scratch database."""
    directory = scratch / f"read-{path.parent.name}-{path.name}"
    shutil.rmtree(directory, ignore_errors=True)
    db = Rdict(str(directory), options=records_options(create=True))
    try:
        db.ingest_external_file([str(path)])
        return list(db.items())
    finally:
        db.close()


def test_bulk_ingest_makes_records_changelog_and_front(tmp_path: Path) -> None:
    """Ingested records read back, the changelog lists them, and after a reopen the front holds them."""
    db = tmp_path / "db"
    keys = random_keys(3000, 6)
    with RiskStore(db, create=True, secret_fingerprint=FINGERPRINT) as store:
        assert not store.has_records()
        directory = bulk_dir(db, "t")
        writer = SstWriter(directory)
        for key in keys:
            writer.put(key, encode_record((CONTRIBUTION,)))
        changes = changelog_values(as_array(keys), per_entry=1000)
        store.bulk_ingest(writer.finish(), changes, [as_array(keys)], len(keys))
        remove_bulk_dirs(db)
        assert store.has_records()
        assert store.version == 3
        assert store.lookup_many(keys) == [(CONTRIBUTION,)] * len(keys)
    assert not [name for name in os.listdir(db) if name.startswith("bulk-ingest-")]
    with RiskStore(db, create=True, secret_fingerprint=FINGERPRINT) as store:
        assert store.version == 3
        assert all(store.front.might_contain(key) for key in keys)
        listed = [change.key for _, changes in store.changes_since(0) for change in changes if change.listed]
        assert listed == keys
        store.apply([Upsert(keys[0], CONTRIBUTION)])
        assert store.version == 3, "an unchanged upsert writes no changelog entry"


def test_front_without_persisting_catches_up_from_the_bulk_changelog(tmp_path: Path) -> None:
    """If the process dies after ingesting, before saving the front, the next open still covers every key."""
    db = tmp_path / "db"
    keys = random_keys(2000, 7)
    store = RiskStore(db, create=True, secret_fingerprint=FINGERPRINT)
    store.persist_front()
    writer = SstWriter(bulk_dir(db, "t"))
    for key in keys:
        writer.put(key, encode_record((CONTRIBUTION,)))
    store.bulk_ingest(writer.finish(), changelog_values(as_array(keys)), [as_array(keys)], len(keys))
    store._release()  # as if killed: the front file still covers sequence 0
    with RiskStore(db, create=True, secret_fingerprint=FINGERPRINT) as reopened:
        assert all(reopened.lookup(key) == (CONTRIBUTION,) for key in keys)
