"""RocksDB as the store opens it: its column families, the options the docs claim, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from rocksdict import Options, Rdict

from risklist_server.core.errors import StoreError
from risklist_server.store.rocks import (
    COLUMN_FAMILIES,
    RECORDS_CF,
    get_one,
    iter_items,
    iter_keys,
    multi_get,
    open_rocks,
    open_rocks_secondary,
)


def _options_file(path: Path) -> dict[str, dict[str, str]]:
    """The newest OPTIONS file RocksDB wrote, as {section: {name: value}}."""
    newest = max(path.glob("OPTIONS-*"), key=lambda found: int(found.name.split("-")[1]))
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in newest.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            current = sections.setdefault(line, {})
        elif "=" in line:
            name, value = line.split("=", 1)
            current[name] = value
    return sections


def test_every_column_family_is_created_and_reopens_with_its_data(tmp_path: Path) -> None:
    """A new store has the records and every named column family; what each holds is there after reopening."""
    path = tmp_path / "db"
    db = open_rocks(str(path), create=True)
    for name in COLUMN_FAMILIES:
        table = db.get_column_family(name)
        table[name.encode()] = b"value of " + name.encode()
        table.close()
    db[b"record"] = b"value"
    db.close()
    assert sorted(Rdict.list_cf(str(path), Options(raw_mode=True))) == sorted((RECORDS_CF, *COLUMN_FAMILIES))
    db = open_rocks(str(path), create=True)
    for name in COLUMN_FAMILIES:
        table = db.get_column_family(name)
        assert list(iter_items(table)) == [(name.encode(), b"value of " + name.encode())]
        table.close()
    assert get_one(db, b"record") == b"value"
    db.close()


def test_records_options_are_the_ones_documented(tmp_path: Path) -> None:
    """The records' full-key Bloom filter, in-table index and filter blocks, hash index, memtable filter and LZ4."""
    path = tmp_path / "db"
    open_rocks(str(path), create=True).close()
    options = _options_file(path)
    table = options['[TableOptions/BlockBasedTable "default"]']
    assert table["filter_policy"] == "bloomfilter"
    assert table["whole_key_filtering"] == "true"
    assert table["cache_index_and_filter_blocks"] == "false"
    assert table["data_block_index_type"] == "kDataBlockBinaryAndHash"
    assert float(table["data_block_hash_table_util_ratio"]) == 0.75
    assert table["format_version"] == "5"
    records = options['[CFOptions "default"]']
    assert records["memtable_whole_key_filtering"] == "true"
    assert float(records["memtable_prefix_bloom_size_ratio"]) == 0.1
    assert records["compression"] == "kLZ4Compression"
    database = options["[DBOptions]"]
    assert database["max_background_jobs"] == "2"
    assert database["keep_log_file_num"] == "5"


def test_a_store_held_by_another_opener_is_a_clear_error(tmp_path: Path) -> None:
    """A second read-write open says the store is held by another process, not RocksDB's lock message."""
    path = tmp_path / "db"
    db = open_rocks(str(path), create=True)
    with pytest.raises(StoreError, match="is held by another process"):
        open_rocks(str(path), create=True)
    db.close()


def test_a_secondary_reads_the_writers_data_after_catching_up(tmp_path: Path) -> None:
    """A secondary opened beside the writer sees what was written once it catches up with the primary."""
    path = tmp_path / "db"
    db = open_rocks(str(path), create=True)
    db[b"a"] = b"1"
    db.flush()
    secondary = open_rocks_secondary(str(path), str(tmp_path / "secondary"))
    db[b"b"] = b"2"
    secondary.try_catch_up_with_primary()
    assert multi_get(secondary, [b"a", b"b", b"c"]) == [b"1", b"2", None]
    assert list(iter_keys(secondary, backwards=True)) == [b"b", b"a"]
    secondary.close()
    db.close()


def test_a_secondary_of_nothing_is_a_clear_error(tmp_path: Path) -> None:
    """Opening a secondary where no store exists raises a StoreError naming the read replica."""
    with pytest.raises(StoreError, match="as a read replica"):
        open_rocks_secondary(str(tmp_path / "missing"), str(tmp_path / "secondary"))
