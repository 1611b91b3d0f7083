"""Tests for loader.spool and loader.dedupe: the scratch files behind a two-pass load."""

from __future__ import annotations

from pathlib import Path

from loader.dedupe import DedupeIndex
from loader.spool import SpoolWriter, read_batches
from server.core.enums import Category, RiskLevel
from server.core.mutation import Mutation, Removal, Upsert
from server.core.record import Contribution


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


def test_dedupe_index_remembers_the_first_line(tmp_path: Path) -> None:
    """The first use of a key is new; later uses name the first line, across many keys."""
    index = DedupeIndex(tmp_path / "dedupe")
    try:
        for line in range(2, 20_002):
            assert index.first_line(line.to_bytes(18, "big"), line) is None
        assert index.first_line((5).to_bytes(18, "big"), 30_000) == 5
        assert index.first_line((5).to_bytes(18, "big"), 30_001) == 5
        assert index.first_line((20_001).to_bytes(18, "big"), 30_002) == 20_001
    finally:
        index.close()


def test_longest_reference_in_any_script_round_trips(tmp_path: Path) -> None:
    """A 64-character reference of 4-byte UTF-8 characters (256 bytes) survives the spool."""
    key = b"\x01" + bytes(16)
    written = Upsert(key, Contribution("bank-a", Category.OTHER, RiskLevel.LOW, 1, 2, "\U0001f600" * 64))
    spool = SpoolWriter(tmp_path / "spool.bin")
    spool.write(2, written)
    spool.close()
    assert [m for batch in read_batches(tmp_path / "spool.bin", "bank-a", 10) for m in batch.mutations] == [written]
