"""The external sort: spools into key-range buckets, each decided alone, equal to deciding the whole feed at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risklist_kernel.digest import KEY_SIZE
from risklist_loader import buckets, bulk
from risklist_loader.buckets import BucketLayout, gather_tails, tail_offsets
from risklist_loader.feed_order import APPLY, order_rows
from risklist_loader.ordering import order_feed, partitioned, read_ordered
from risklist_loader.spool import ADD, ENTRY_DTYPE, EXPIRED, REMOVE, SpoolWriter, key_list

keys_strategy = st.binary(min_size=KEY_SIZE, max_size=KEY_SIZE)


@given(keys=st.lists(keys_strategy, max_size=50), bits=st.integers(0, 16))
def test_bucket_numbers_ascend_with_the_keys(keys: list[bytes], bits: int) -> None:
    """Buckets one after another visit keys in byte order: the number never falls as the key rises."""
    ordered = sorted(keys)
    numbers = BucketLayout(bits).of(np.array(ordered, dtype=f"S{KEY_SIZE}")).tolist() if ordered else []
    assert numbers == sorted(numbers)


@given(rows=st.integers(0, 10**11), target=st.integers(1, 10**7))
def test_the_layout_grows_with_the_feed(rows: int, target: int) -> None:
    """Even a feed of one entity type puts at most about `target` rows in a bucket, up to 2**16 per type."""
    bits = BucketLayout.for_rows(rows, target).digest_bits
    assert 0 <= bits <= 16
    assert bits == 16 or rows <= target << bits
    assert bits == 0 or rows > target << (bits - 1)


@given(lines=st.integers(0, 10**11))
def test_pass_1_fills_the_buckets_of_feeds_up_to_its_limit_in_smaller_buckets(lines: int) -> None:
    """Up to 128 x TARGET_ROWS lines pass 1 fills the buckets itself, of about DIRECT_TARGET_ROWS rows (never more
    than TARGET_ROWS per entity type, at most 2**7 buckets per type); bigger feeds go through spools."""
    layout = buckets.direct_layout(lines)
    if lines > buckets.TARGET_ROWS << buckets.DIRECT_MAX_DIGEST_BITS:
        assert layout is None
        return
    assert layout is not None and layout.digest_bits <= buckets.DIRECT_MAX_DIGEST_BITS
    assert lines <= buckets.TARGET_ROWS << layout.digest_bits
    assert (lines <= buckets.DIRECT_TARGET_ROWS << layout.digest_bits
            or layout.digest_bits == buckets.DIRECT_MAX_DIGEST_BITS)
    assert buckets.direct_layout(lines, max_bits=-1) is None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tails=st.lists(st.binary(max_size=20), max_size=30), data=st.data(), slice_rows=st.integers(1, 5))
def test_gather_tails_is_slicing_and_joining(monkeypatch: pytest.MonkeyPatch, tails: list[bytes],
                                             data: st.DataObject, slice_rows: int) -> None:
    """Whatever slice of rows it indexes at a time."""
    monkeypatch.setattr(buckets, "GATHER_ROWS", slice_rows)
    rows = data.draw(st.lists(st.integers(0, max(0, len(tails) - 1)), max_size=40)) if tails else []
    offsets = tail_offsets(np.array([len(tail) for tail in tails], dtype=np.uint16))
    joined = np.frombuffer(b"".join(tails), dtype=np.uint8)
    gathered = gather_tails(joined, offsets, np.array(rows, dtype=np.int64)).tobytes()
    assert gathered == b"".join(tails[row] for row in rows)


row_strategy = st.tuples(
    st.integers(0, 11),  # subject: few, so repeats, supersedes and groups happen
    st.sampled_from([ADD, ADD, REMOVE, EXPIRED]),
    st.integers(0, 3),  # category (0: every category, only for a remove)
    st.sampled_from([b"", b"t1", b"t2-longer"]),
)


def _subject_key(subject: int) -> bytes:
    """Keys over several types and both ends of the digest space, some ending in zero bytes."""
    spread = subject * 0x1357_9BDF_2468_ACE0_1122_3344_5566_7788 % 2**128
    return bytes((1 + subject % 7,)) + spread.to_bytes(16, "big")


def _write_spools(directory: Path, rows: list[tuple[int, int, int, bytes]], parts: int) -> list[Path]:
    """Rows (line = position + 2) cut into `parts` spools of consecutive lines, as pass 1 writes them."""
    paths = []
    bounds = [len(rows) * number // parts for number in range(parts + 1)]
    for part in range(parts):
        spool = SpoolWriter(directory / f"spool.{part:06d}")
        for position in range(bounds[part], bounds[part + 1]):
            subject, action, category, tail = rows[position]
            category = category if action == REMOVE else max(category, 1)
            spool.write_raw(_subject_key(subject), action, category, position + 2, tail if action != REMOVE else b"")
        spool.close()
        paths.append(spool.path)
    return paths


def _whole_feed(paths: list[Path]) -> list[tuple[object, ...]]:
    """The applied rows in key order decided over the whole feed at once (what the loader did before)."""
    entries = np.concatenate([np.fromfile(path, dtype=ENTRY_DTYPE) for path in paths])
    tails = [path.with_name(path.name + ".tail").read_bytes() for path in paths]
    joined = b"".join(tails)
    offsets = tail_offsets(entries["tail"])

    def tail(position: int) -> bytes:
        return joined[int(offsets[position]) : int(offsets[position + 1])]

    found = order_rows(entries["key"], entries["action"], entries["category"],
                       lambda first, second: tail(first) == tail(second))
    held = set(found.held.tolist())
    keys = key_list(entries["key"])
    return [(keys[position], int(entries["action"][position]), int(entries["category"][position]),
             int(entries["line"][position]), tail(position), position in held)
            for position in found.order.tolist() if found.fate[position] == APPLY]


def _bucketed(directory: Path, paths: list[Path], accepted: int) -> list[tuple[object, ...]]:
    counts, ordered = order_feed(partitioned(paths, directory, accepted))
    found: list[tuple[object, ...]] = []
    for bucket in ordered.buckets:
        rows = read_ordered(ordered, bucket)
        keys = key_list(rows.rows["key"])
        for position, key in enumerate(keys):
            found.append((key, int(rows.rows["action"][position]), int(rows.rows["category"][position]),
                          int(rows.rows["line"][position]), rows.tail(position), bool(rows.rows["held"][position])))
    assert counts.applied == len(found)
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_strategy, max_size=60), parts=st.integers(1, 4), target=st.integers(1, 8),
       block=st.integers(1, 30))
def test_buckets_decide_what_the_whole_feed_decides(tmp_path_factory: pytest.TempPathFactory,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    rows: list[tuple[int, int, int, bytes]], parts: int, target: int,
                                                    block: int) -> None:
    """Whatever the bucket size and the block a partitioning task reads at a time, the applied rows (in key order,
    with their tails and held flags) are those of deciding the whole feed at once."""
    monkeypatch.setattr(buckets, "TARGET_ROWS", target)
    monkeypatch.setattr(buckets, "BLOCK_ROWS", block)
    work = tmp_path_factory.mktemp("feed")
    paths = _write_spools(work, rows, parts)
    expected = _whole_feed(paths)
    assert _bucketed(work / "buckets", paths, len(rows)) == expected
    assert not list(work.glob("spool.*")), "spools are deleted once distributed"
    assert not list((work / "buckets").glob("bucket-*")), "bucket files are deleted once decided"


def test_partitioning_and_ordering_on_every_core_decide_the_same(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Several partitioning tasks (each its own bucket files) and ordering processes give one process's rows."""
    rows = [(subject % 40, (ADD, REMOVE, EXPIRED, ADD)[subject % 4], subject % 4, b"t%d" % (subject % 3))
            for subject in range(400)]
    monkeypatch.setattr(buckets, "TARGET_ROWS", 20)
    (tmp_path / "one").mkdir()
    expected = _bucketed(tmp_path / "one" / "buckets", _write_spools(tmp_path / "one", rows, 5), len(rows))
    monkeypatch.setattr(buckets, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr("risklist_loader.ordering.PARALLEL_MIN_ROWS", 0)
    (tmp_path / "many").mkdir()
    assert _bucketed(tmp_path / "many" / "buckets", _write_spools(tmp_path / "many", rows, 5), len(rows)) == expected


@given(sizes=st.lists(st.integers(0, 9), max_size=6), per_slice=st.integers(1, 7))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_listed_keys_come_in_full_slices_whatever_the_builders(tmp_path_factory: pytest.TempPathFactory,
                                                              sizes: list[int], per_slice: int) -> None:
    """The changelog's slices of changes are full but for the last, whichever builder wrote which changes."""
    directory = tmp_path_factory.mktemp("keys")
    every: list[bytes] = []
    paths = []
    for number, size in enumerate(sizes):
        rows = [bytes((index % 2, 1)) + (len(every) + index).to_bytes(16, "big") for index in range(size)]
        every += rows
        path = directory / f"changes-{number}.bin"
        path.write_bytes(b"".join(rows))
        paths.append(path)
    slices = [part.tobytes() for part in bulk._change_slices(paths, per_slice)]
    assert b"".join(slices) == b"".join(every)
    assert all(len(part) == per_slice * (1 + KEY_SIZE) for part in slices[:-1])
    assert all(part for part in slices)
