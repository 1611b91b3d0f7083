"""risklist_loader.spool and .dedupe: the scratch files behind a two-pass load, and duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from risklist_kernel.enums import Category, RiskLevel
from risklist_loader.dedupe import order_keys
from risklist_loader.spool import SpoolWriter, read_batches
from risklist_server.core.mutation import Mutation, Removal, Upsert
from risklist_server.core.record import Contribution


def mutations(count: int) -> list[Mutation]:
    made: list[Mutation] = []
    for number in range(count):
        key = bytes((1 + number % 7,)) + number.to_bytes(16, "big")
        if number % 3 == 2:
            made.append(Removal(key, "bank-a", None if number % 2 else Category.GAMBLING))
        else:
            reference = "" if number % 2 else f"réf-{number}-案件"
            made.append(Upsert(key, Contribution("bank-a", Category(1 + number % 8), RiskLevel(1 + number % 4),
                                                 1_700_000_000 + number, 1_800_000_000 + number, reference)))
    return made


def test_spool_round_trips_in_order_and_batches(tmp_path: Path) -> None:
    """Mutations come back identical, in order, cut into batches of the asked size."""
    written = mutations(25)
    spool = SpoolWriter(tmp_path / "spool.bin")
    for line, mutation in enumerate(written, start=2):
        spool.write(line, mutation)
    spool.close()
    assert spool.count == 25
    batches = list(read_batches(tmp_path / "spool.bin", "bank-a", 10))
    assert [batch.number for batch in batches] == [1, 2, 3]
    assert [len(batch.mutations) for batch in batches] == [10, 10, 5]
    assert [(batch.first_line, batch.last_line) for batch in batches] == [(2, 11), (12, 21), (22, 26)]
    assert [m for batch in batches for m in batch.mutations] == written


def test_empty_spool_has_no_batches(tmp_path: Path) -> None:
    """A spool with nothing in it yields no batch at all."""
    SpoolWriter(tmp_path / "spool.bin").close()
    assert list(read_batches(tmp_path / "spool.bin", "bank-a", 10)) == []


def test_order_keys_finds_duplicates_and_sorts_by_key() -> None:
    """Later rows with the same key and category name the first line; the order is key bytes, then line."""
    keys = [bytes((1,)) + bytes(15) + bytes((n % 5,)) for n in range(20)]
    keys += [keys[3], keys[3], keys[7], b"\x01" + bytes(15) + b"\x00"]
    categories = [1] * 20 + [1, 2, 1, 1]
    lines = list(range(2, 2 + len(keys)))
    entries = np.array(keys, dtype="S17")
    found = order_keys(entries, np.array(categories, dtype=np.uint8), np.array(lines, dtype=np.int64))
    expected: dict[int, int] = {}
    first: dict[tuple[bytes, int], int] = {}
    for key, category, line in zip(keys, categories, lines, strict=True):
        if (key, category) in first:
            expected[line] = first[key, category]
        else:
            first[key, category] = line
    assert {lines[i]: int(d) for i, d in enumerate(found.duplicate_of) if d} == expected
    ordered = [(keys[i], lines[i]) for i in found.order.tolist()]
    assert ordered == sorted(ordered)


def test_order_keys_separates_keys_sharing_their_first_eight_bytes() -> None:
    """Keys equal in bytes 0-7 but not after are still ordered by all their bytes and never merged."""
    keys = [b"\x02" * 8 + bytes((9 - n % 3,)) * 9 for n in range(9)]
    lines = np.arange(2, 11, dtype=np.int64)
    found = order_keys(np.array(keys, dtype="S17"), np.full(9, 3, dtype=np.uint8), lines)
    assert [keys[i] for i in found.order.tolist()] == sorted(keys)
    assert sorted(int(d) for d in found.duplicate_of if d) == [2, 2, 3, 3, 4, 4]


def test_longest_reference_in_any_script_round_trips(tmp_path: Path) -> None:
    """A 64-character reference of 4-byte UTF-8 characters (256 bytes) survives the spool."""
    key = b"\x01" + bytes(16)
    written = Upsert(key, Contribution("bank-a", Category.OTHER, RiskLevel.LOW, 1, 2, "\U0001f600" * 64))
    spool = SpoolWriter(tmp_path / "spool.bin")
    spool.write(2, written)
    spool.close()
    assert [m for batch in read_batches(tmp_path / "spool.bin", "bank-a", 10) for m in batch.mutations] == [written]
