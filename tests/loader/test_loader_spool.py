"""risklist_loader.spool: the scratch files behind a two-pass load, replayed in batches or read as columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from risklist_kernel.enums import Category, RiskLevel
from risklist_loader.spool import EXPIRED, SpoolTails, SpoolWriter, read_all_entries, read_batches, read_entries
from risklist_server.core.mutation import Mutation, Removal, Upsert
from risklist_server.core.record import Contribution, contribution_tail


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


def test_an_expired_add_is_replayed_as_a_removal_of_its_category(tmp_path: Path) -> None:
    """An add spooled as expired keeps its tail (for comparisons) and comes back as the end of that listing."""
    key = b"\x01" + bytes(16)
    old = Upsert(key, Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, 2, "case-1"))
    spool = SpoolWriter(tmp_path / "spool.bin")
    spool.write(2, old, expired=True)
    spool.close()
    [entry] = read_entries(tmp_path / "spool.bin").tolist()
    assert entry[1] == EXPIRED and entry[4] > 0
    assert [m for batch in read_batches(tmp_path / "spool.bin", "bank-a", 10) for m in batch.mutations] == [
        Removal(key, "bank-a", Category.GAMBLING)]


def test_skipped_lines_are_left_out_and_held_rows_join_their_group(tmp_path: Path) -> None:
    """Skipped lines never come back; held rows wait for the next row of their key and share its batch, which
    may start a new batch early, or (when the group alone is longer) hold more than the batch size."""
    written = mutations(25)
    spool = SpoolWriter(tmp_path / "spool.bin")
    for line, mutation in enumerate(written, start=2):
        spool.write(line, mutation)
    grouped = [Removal(written[0].key, "bank-a"), Removal(written[0].key, "bank-a", Category.GAMBLING),
               written[0]]
    for line, mutation in zip((27, 30, 31), grouped, strict=True):
        spool.write(line, mutation)
    spool.close()
    skip = np.array([5, 6], dtype=np.int64)
    held = np.array([27, 30], dtype=np.int64)
    batches = list(read_batches(tmp_path / "spool.bin", "bank-a", 5, skip, held))
    expected = [m for line, m in enumerate(written, start=2) if line not in (5, 6)]
    assert [m for batch in batches for m in batch.mutations] == expected + grouped
    assert [len(batch.mutations) for batch in batches] == [5, 5, 5, 5, 3, 3]
    assert (batches[-1].first_line, batches[-1].last_line) == (27, 31)
    small = list(read_batches(tmp_path / "spool.bin", "bank-a", 2, skip, held))
    assert small[-1].mutations == grouped and max(len(batch.mutations) for batch in small[:-1]) == 2


def test_spool_tails_compare_rows_across_spools(tmp_path: Path) -> None:
    """SpoolTails reads each row's tail by its position over several spools, and tells identical tails."""
    written = mutations(12)
    paths = []
    for part in range(3):
        spool = SpoolWriter(tmp_path / f"spool.{part}")
        for line, mutation in enumerate(written[part * 4 : part * 4 + 4], start=2 + part * 4):
            spool.write(line, mutation)
        spool.write(99, written[0])
        spool.close()
        paths.append(spool.path)
    entries = read_all_entries(paths)
    tails = SpoolTails(paths, entries["tail"])
    expected = [contribution_tail(m.contribution) if isinstance(m, Upsert) else b""
                for part in range(3) for m in [*written[part * 4 : part * 4 + 4], written[0]]]
    assert [tails.tail(position) for position in range(len(entries))] == expected
    assert tails.same(0, 4) and tails.same(4, 14) and not tails.same(0, 1)


def test_longest_reference_in_any_script_round_trips(tmp_path: Path) -> None:
    """A 64-character reference of 4-byte UTF-8 characters (256 bytes) survives the spool."""
    key = b"\x01" + bytes(16)
    written = Upsert(key, Contribution("bank-a", Category.OTHER, RiskLevel.LOW, 1, 2, "\U0001f600" * 64))
    spool = SpoolWriter(tmp_path / "spool.bin")
    spool.write(2, written)
    spool.close()
    assert [m for batch in read_batches(tmp_path / "spool.bin", "bank-a", 10) for m in batch.mutations] == [written]
