"""Scratch files of a two-pass load: spools (feed order) into key-range buckets, decided, replayed in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from risklist_kernel.enums import Category, RiskLevel
from risklist_loader.batches import ordered_batches
from risklist_loader.ordering import OrderedFeed, order_feed, partitioned
from risklist_loader.spool import EXPIRED, SpoolWriter, key_list, read_entries
from risklist_server.core.mutation import Mutation, Removal, Upsert
from risklist_server.core.record import Contribution


def mutations(count: int) -> list[Mutation]:
    """Distinct subjects (keys with trailing zero bytes among them): adds with and without references, removes."""
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


def spooled(tmp_path: Path, rows: list[tuple[int, Mutation]], *, parts: int = 1, expired: bool = False) -> OrderedFeed:
    """Write (line, mutation) rows into `parts` spools in feed order, then order them as the pipeline does."""
    paths = []
    for part in range(parts):
        spool = SpoolWriter(tmp_path / f"spool.{part}")
        for line, mutation in rows[part::parts] if parts > 1 else rows:
            spool.write(line, mutation, expired=expired)
        spool.close()
        paths.append(spool.path)
    _, ordered = order_feed(partitioned(paths, tmp_path / "buckets", len(rows)))
    return ordered


def test_rows_come_back_identical_in_key_order_and_batches(tmp_path: Path) -> None:
    """Mutations come back identical, in storage-key order, cut into batches of the asked size."""
    written = mutations(25)
    batches = list(ordered_batches(spooled(tmp_path, list(enumerate(written, start=2)), parts=3), "bank-a", 10))
    assert [batch.number for batch in batches] == [1, 2, 3]
    assert [len(batch.mutations) for batch in batches] == [10, 10, 5]
    assert [m for batch in batches for m in batch.mutations] == sorted(written, key=lambda m: m.key)


def test_empty_spools_have_no_batches(tmp_path: Path) -> None:
    """Spools with nothing in them yield no batch at all."""
    assert list(ordered_batches(spooled(tmp_path, [], parts=2), "bank-a", 10)) == []


def test_keys_ending_in_zero_bytes_keep_their_length() -> None:
    """numpy's fixed-width bytes drop trailing zeros on tolist(); key_list keeps all 17 bytes."""
    keys = np.array([b"\x01" + bytes(16), b"\x02" + bytes(15) + b"\x05"], dtype="S17")
    assert key_list(keys) == [b"\x01" + bytes(16), b"\x02" + bytes(15) + b"\x05"]


def test_an_expired_add_is_replayed_as_a_removal_of_its_category(tmp_path: Path) -> None:
    """An add spooled as expired keeps its tail (for comparisons) and comes back as the end of that listing."""
    key = b"\x01" + bytes(16)
    old = Upsert(key, Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, 2, "case-1"))
    spool = SpoolWriter(tmp_path / "spool.bin")
    spool.write(2, old, expired=True)
    spool.close()
    [entry] = read_entries(tmp_path / "spool.bin").tolist()
    assert entry[1] == EXPIRED and entry[4] > 0
    _, ordered = order_feed(partitioned([tmp_path / "spool.bin"], tmp_path / "buckets", 1))
    assert [m for batch in ordered_batches(ordered, "bank-a", 10) for m in batch.mutations] == [
        Removal(key, "bank-a", Category.GAMBLING)
    ]


def test_only_last_words_are_applied_and_a_group_shares_its_batch(tmp_path: Path) -> None:
    """Superseded and repeated rows never come back; a remove of every category followed by an add of the same
    subject comes back as one group in one batch, which may start a new batch early, or (when the group alone is
    longer) hold more than the batch size."""
    written = mutations(25)
    first = written[0]
    assert isinstance(first, Upsert)
    rows: list[tuple[int, Mutation]] = list(enumerate(written, start=2))
    rows.append((27, first))  # repeats line 2: not applied again
    grouped = [Removal(first.key, "bank-a"), first]
    rows += list(zip((30, 31), grouped, strict=True))
    ordered = spooled(tmp_path, rows, parts=2)
    batches = list(ordered_batches(ordered, "bank-a", 5))
    expected = sorted([*written[1:], *grouped], key=lambda m: m.key)  # line 2 superseded by the group
    assert [m for batch in batches for m in batch.mutations] == expected
    assert all(len(batch.mutations) <= 5 for batch in batches)
    [with_group] = [batch for batch in batches if grouped[0] in batch.mutations]
    assert with_group.mutations[with_group.mutations.index(grouped[0]) + 1] == first
    (tmp_path / "again").mkdir()
    small = list(ordered_batches(spooled(tmp_path / "again", rows, parts=2), "bank-a", 1))
    assert [batch.mutations for batch in small if first in batch.mutations] == [grouped]


def test_longest_reference_in_any_script_round_trips(tmp_path: Path) -> None:
    """A 64-character reference of 4-byte UTF-8 characters (256 bytes) survives the spool and the buckets."""
    key = b"\x01" + bytes(16)
    written = Upsert(key, Contribution("bank-a", Category.OTHER, RiskLevel.LOW, 1, 2, "\U0001f600" * 64))
    ordered = spooled(tmp_path, [(2, written)])
    assert [m for batch in ordered_batches(ordered, "bank-a", 10) for m in batch.mutations] == [written]
