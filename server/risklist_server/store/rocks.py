"""RocksDB options tuned for point lookups, and opening the store's column families."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

from rocksdict import (
    AccessType,
    BlockBasedOptions,
    Cache,
    DataBlockIndexType,
    DBCompressionType,
    Options,
    Rdict,
)

from risklist_server.core.errors import StoreError, StoreHeld
from risklist_server.store.store_dir import check_store_dir, make_store_dir

RECORDS_CF = "default"
CHANGELOG_CF = "changelog"
META_CF = "meta"
SNAPSHOT_CF = "snapshot_seen"
OUTCOMES_CF = "outcomes"
COLUMN_FAMILIES = (CHANGELOG_CF, META_CF, SNAPSHOT_CF, OUTCOMES_CF)

SECRET_FINGERPRINT_KEY = b"secret_fingerprint"
"""Meta key: the fingerprint of the network secret the store's digests were made with."""

DEFAULT_BLOCK_CACHE_BYTES = 256 * 1024 * 1024


SST_FILTER_BITS = 10
"""Bits per key of each SST's Bloom filter; 0 reads (and writes) tables without one (benchmarks/sst_filter.py)."""


def records_options(
    block_cache_bytes: int = DEFAULT_BLOCK_CACHE_BYTES, *, create: bool = False, sst_filter_bits: int = SST_FILTER_BITS
) -> Options:
    """Options for the records column family (and the DB as a whole).

    Point lookups of random 17-byte keys, 99% of them misses, so:
    - a full-key Bloom filter per SST (10 bits/key, ~1% FPR) answers most misses from memory;
    - index and filter blocks stay in memory with each open table (not in the block cache):
      1.25 bytes/key of filter plus the index, always there. In the block cache, a bulk-built
      SST's single filter block (5 MB for 4M keys) is larger than a cache shard holds, so it
      was read and parsed again on every lookup: 16 µs per missed key in a multi-get, 0.5 ms
      per single get on a 10M-entry store (benchmarks/rocksdb_miss.py, RESULTS.md);
    - the data-block hash index finds a key inside a block without a binary search;
    - the memtable gets a whole-key Bloom filter too, so misses skip its skiplist search.
    `optimize_for_point_lookup` was measured as an alternative; it sets a subset of this.
    """
    table = BlockBasedOptions()
    if sst_filter_bits:
        table.set_bloom_filter(sst_filter_bits, False)
    table.set_cache_index_and_filter_blocks(False)
    table.set_data_block_index_type(DataBlockIndexType.binary_and_hash())
    table.set_data_block_hash_ratio(0.75)
    table.set_block_cache(Cache(block_cache_bytes))
    table.set_format_version(5)
    options = Options(raw_mode=True)
    options.create_if_missing(create)
    options.create_missing_column_families(True)
    options.set_block_based_table_factory(table)
    options.set_memtable_whole_key_filtering(True)
    options.set_memtable_prefix_bloom_ratio(0.1)
    options.set_compression_type(DBCompressionType.lz4())
    options.increase_parallelism(2)
    options.set_max_background_jobs(2)
    options.set_keep_log_file_num(5)
    return options


def open_rocks(path: str, block_cache_bytes: int = DEFAULT_BLOCK_CACHE_BYTES, *, create: bool = False) -> Rdict:
    """Open read-write (with `create`, creating a missing store, its directory 0700); a store held
    elsewhere raises a clear StoreError."""
    if create:
        make_store_dir(path)
    else:
        check_store_dir(path)
    options = records_options(block_cache_bytes, create=create)
    column_families = {name: Options(raw_mode=True) for name in COLUMN_FAMILIES}
    try:
        return Rdict(
            path,
            options=options,
            column_families=column_families,
            access_type=AccessType.read_write(),
        )
    except Exception as error:  # rocksdict raises plain Exception with RocksDB's message
        message = str(error)
        if "lock" in message.lower():
            raise StoreHeld(
                f"the store at {path} is held by another process (a running risklist-server?); "
                "stop that process, or load through it with --server ADDR"
            ) from None
        raise StoreError(f"cannot open the store at {path}: {message}") from None


def open_rocks_secondary(
    path: str, secondary_dir: str, block_cache_bytes: int = DEFAULT_BLOCK_CACHE_BYTES, *, sst_filters: bool = True
) -> Rdict:
    """Open as a RocksDB secondary: reads the writer's files, catches up on demand, never writes.

    Without `sst_filters` RocksDB neither loads nor consults the SST files' Bloom filters (1.1 bytes per record in
    every process that opens the store): for a reader whose every check goes through the front first, which
    already answers 99.6% of misses (benchmarks/RESULTS.md, "Do RocksDB's SST filters still pay behind the
    front?")."""
    column_families = {name: Options(raw_mode=True) for name in COLUMN_FAMILIES}
    try:
        return Rdict(
            path,
            options=records_options(block_cache_bytes, sst_filter_bits=SST_FILTER_BITS if sst_filters else 0),
            column_families=column_families,
            access_type=AccessType.secondary(secondary_dir),
        )
    except Exception as error:  # rocksdict raises plain Exception with RocksDB's message
        raise StoreError(f"cannot open the store at {path} as a read replica: {error}") from None


def open_rocks_read_only(path: str, info_log_dir: str) -> Rdict:
    """Open read-only (a backup being verified): RocksDB writes nothing there, its info log goes to `info_log_dir`."""
    options = records_options(8 * 1024 * 1024)
    options.set_db_log_dir(info_log_dir)
    column_families = {name: Options(raw_mode=True) for name in COLUMN_FAMILIES}
    try:
        return Rdict(path, options=options, column_families=column_families,
                     access_type=AccessType.read_only(False))
    except Exception as error:  # rocksdict raises plain Exception with RocksDB's message
        raise StoreError(f"RocksDB cannot open {path} read-only: {error}") from None


def multi_get(table: Rdict, keys: Sequence[bytes]) -> list[bytes | None]:
    """Values for `keys` in order (None where absent), in one RocksDB multi-get."""
    if not keys:
        return []
    return cast(list[bytes | None], table.get(cast(Any, list(keys))))


def get_one(table: Rdict, key: bytes) -> bytes | None:
    """The value at `key`, or None."""
    return cast(bytes | None, table.get(key))


def iter_items(table: Rdict, from_key: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs in key order, from `from_key` on."""
    return cast(Iterator[tuple[bytes, bytes]], iter(table.items(from_key=from_key)))


def iter_keys(table: Rdict, backwards: bool = False) -> Iterator[bytes]:
    """Keys in key order (or reversed)."""
    return cast(Iterator[bytes], iter(table.keys(backwards=backwards)))
