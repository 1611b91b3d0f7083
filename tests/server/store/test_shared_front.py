"""Reader replicas share the writer's published front file: same answers, new keys, re-publication, damage."""

from __future__ import annotations

import mmap
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.store.front import BloomFront
from risklist_server.store.front_file import HEADER, FrontOwner, save_front
from risklist_server.store.front_map import map_front
from risklist_server.store.reads import FRONT_FILE
from risklist_server.store.replica import ReplicaStore
from risklist_server.store.risk_store import RiskStore
from risklist_server.store.shared_front import SharedFront
from risklist_server.store.store_id import front_owner_of_store

CONTRIBUTION = Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, 1_700_000_000, 2_000_000_000, "r")
LISTED = [bytes((1,)) + os.urandom(16) for _ in range(2000)]
ABSENT = [bytes((1 + n % 4,)) + os.urandom(16) for n in range(20_000)]


def _writer(path: Path, fingerprint: str = "test") -> RiskStore:
    return RiskStore(path, create=True, secret_fingerprint=fingerprint)


def _replica(path: Path, secondary: Path) -> ReplicaStore:
    return ReplicaStore(path, secondary, secret_fingerprint="test")


def _published(path: Path) -> RiskStore:
    writer = _writer(path)
    writer.apply([Upsert(key, CONTRIBUTION) for key in LISTED])
    writer.persist_front()
    return writer


def test_two_readers_map_one_file_and_answer_alike(tmp_path: Path) -> None:
    """Two replicas map the same published file read-only and answer every hit and miss identically."""
    path = tmp_path / "db"
    with _published(path) as writer, _replica(path, tmp_path / "a") as first, _replica(path, tmp_path / "b") as second:
        for replica in (first, second):
            base = replica.front.base
            assert base is not None and base.covered_sequence == writer.version
            mapping = base.words.base
            assert isinstance(mapping, memoryview) and isinstance(mapping.obj, mmap.mmap)
            assert not base.words.flags.writeable
            assert replica.front.overlay_keys == 0
        probes = LISTED + ABSENT
        assert (first.front.might_contain_many(probes) == second.front.might_contain_many(probes)).all()
        assert first.front.might_contain_many(LISTED).all()
        assert [first.front.might_contain(key) for key in ABSENT] == [second.front.might_contain(key) for key in ABSENT]
        assert first.lookup_many(probes) == second.lookup_many(probes) == [(CONTRIBUTION,)] * len(LISTED) + [
            None
        ] * len(ABSENT)
        assert (first.front.words_view() == writer.front.words_view()).all()


def test_a_key_reported_after_publication_is_a_hit_on_every_reader(tmp_path: Path) -> None:
    """Keys listed after the file was published reach each replica's overlay at catch-up, single and batch."""
    path = tmp_path / "db"
    late = [bytes((2,)) + os.urandom(16) for _ in range(50)]
    with _published(path) as writer, _replica(path, tmp_path / "a") as first, _replica(path, tmp_path / "b") as second:
        writer.apply([Upsert(key, CONTRIBUTION) for key in late])
        for replica in (first, second):
            assert replica.catch_up() == writer.version
            assert replica.front.overlay_keys == len(late)
            assert all(replica.front.might_contain(key) for key in late)
            assert replica.front.might_contain_packed(b"".join(late)).all()
            assert all(replica.lookup(key) == (CONTRIBUTION,) for key in late)
            assert replica.lookup_packed(b"".join(late))[-1] == (len(late) - 1, (CONTRIBUTION,))
            words = replica.front.words_view()  # the partner filter's words hold the late keys too
            assert (words | writer.front.words_view() == words).all()


def test_a_republished_file_is_mapped_at_the_next_catch_up(tmp_path: Path) -> None:
    """After the writer publishes again, a replica maps the new file and starts a fresh overlay."""
    path = tmp_path / "db"
    late = [bytes((3,)) + os.urandom(16) for _ in range(10)]
    with _published(path) as writer, _replica(path, tmp_path / "a") as replica:
        writer.apply([Upsert(key, CONTRIBUTION) for key in late])
        replica.catch_up()
        assert replica.front.overlay_keys == len(late)
        writer.persist_front()
        with capture_logs() as logs:
            assert replica.catch_up() == writer.version
        base = replica.front.base
        assert base is not None and base.covered_sequence == writer.version
        assert replica.front.overlay_keys == 0
        assert all(replica.lookup(key) == (CONTRIBUTION,) for key in late + LISTED[:10])
        assert [entry["event"] for entry in logs] == ["front_mapped"]


def _flip_last_byte(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    file.write_bytes(bytes(data))


def _truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def _other_secret(file: Path) -> None:
    store = file.parent
    with _writer(store.parent / "elsewhere", "other") as other:
        save_front(file, other.front, 0, front_owner_of_store(store, "other"))


def _other_store(file: Path) -> None:
    with _writer(file.parent.parent / "another") as other:
        other.persist_front()
    shutil.copyfile(file.parent.parent / "another" / FRONT_FILE, file)  # in place, when `file` exists


DAMAGE = {
    "checksum mismatch": _flip_last_byte,
    "truncated": _truncate,
    "another network secret": _other_secret,
    "another store": _other_store,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_file_fails_closed_with_a_log_event(tmp_path: Path, damage: str) -> None:
    """A damaged or foreign front file is refused (front_file_refused, with the reason), and RocksDB answers instead,
    at start and when it replaces a good file; a good file published later is mapped again."""
    path = tmp_path / "db"
    with _published(path) as writer:
        DAMAGE[damage](path / FRONT_FILE)
        with capture_logs() as logs, _replica(path, tmp_path / "a") as replica:
            refused = [entry for entry in logs if entry["event"] == "front_file_refused"]
            assert len(refused) == 1 and damage in refused[0]["reason"] and refused[0]["log_level"] == "error"
            assert replica.front.base is None
            assert replica.front.might_contain_many(ABSENT).all()  # every key a candidate: RocksDB decides
            assert replica.lookup_many(LISTED[:100] + ABSENT[:100]) == [(CONTRIBUTION,)] * 100 + [None] * 100
            with pytest.raises(Exception, match="no usable Bloom front file"):
                replica.front.words_view()
            writer.check_front_file()  # the writer notices and publishes a good one
            replica.catch_up()
            assert replica.front.base is not None
            DAMAGE[damage](path / FRONT_FILE)
            replica.catch_up()
            assert replica.front.base is None
            assert all(replica.lookup(key) == (CONTRIBUTION,) for key in LISTED[:100])
        assert len([entry for entry in logs if entry["event"] == "front_file_refused"]) == 2


def test_the_writer_replaces_a_damaged_file_without_trusting_its_mapping(tmp_path: Path) -> None:
    """A file changed in place changes the writer's own mapping too: it rebuilds from the records (front_file_damaged)
    instead of publishing the damage; a file replaced from outside is published again from its intact mapping."""
    path = tmp_path / "db"
    with _published(path) as writer, capture_logs() as logs:
        front_file = path / FRONT_FILE
        data = bytearray(front_file.read_bytes())
        data[HEADER.size :] = bytes(len(data) - HEADER.size)  # clear every bit in place: the mapping sees it
        with open(front_file, "r+b") as handle:
            handle.write(data)
        assert not writer.front.might_contain_many(LISTED).any()
        os.utime(front_file, ns=(1, 1))
        writer.check_front_file()
        assert writer.front.might_contain_many(LISTED).all()
        foreign = tmp_path / "elsewhere" / "foreign.bin"
        foreign.parent.mkdir()
        _other_store(foreign)
        os.replace(foreign, front_file)  # a foreign file renamed over it: the writer's mapping is intact
        writer.check_front_file()
        assert writer.front.might_contain_many(LISTED).all()
        with _replica(path, tmp_path / "a") as replica:
            assert replica.front.base is not None and replica.front.might_contain_many(LISTED).all()
    events = [entry["event"] for entry in logs if entry["event"].startswith("front_file")]
    assert events == ["front_file_damaged", "front_file_replaced"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(min_size=17, max_size=17), max_size=300), st.lists(st.binary(min_size=17, max_size=17),
                                                                            max_size=300))
def test_shared_front_never_answers_no_for_a_key_it_holds(published: list[bytes], later: list[bytes]) -> None:
    """Keys in the mapped file and keys added after it (past the overlay's growth) are always "maybe", both paths,
    and the partner filter's words equal those of one private front holding them all."""
    smallest = mock.patch("risklist_server.store.shared_front.OVERLAY_CAPACITY", 1)  # 1024 words: grows at 8192 keys
    with tempfile.TemporaryDirectory() as directory, smallest:
        owner = FrontOwner("test", "store")
        private = BloomFront.for_capacity(1000)
        private.add_many(published)
        save_front(Path(directory) / FRONT_FILE, private, 1, owner)
        shared = SharedFront(map_front(Path(directory) / FRONT_FILE, owner))
        later = later + [bytes((1,)) + n.to_bytes(16, "big") for n in range(9000)]  # past the overlay's capacity
        for key in later:
            shared.add(key)
            private.add(key)
        keys = published + later
        assert all(shared.might_contain(key) for key in keys)
        assert shared.might_contain_many(keys).all()
        assert (shared.words_view() == private.words_view()).all()


def _mapping_rss_kib(path: Path) -> int:
    """Resident KiB of this process's mappings of `path` (/proc/self/smaps)."""
    resident, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if "-" in line.split(" ", 1)[0] and len(line.split()) >= 5:
            inside = line.split()[-1] == str(path)
        elif inside and line.startswith("Rss:"):
            resident += int(line.split()[1])
    return resident


def test_mapping_a_front_does_not_make_it_resident_in_the_process(tmp_path: Path) -> None:
    """The checksum is read through the file, so a process that publishes or opens a big front holds no second
    copy of it until lookups touch its pages (the loader's memory at 100M rows relies on it)."""
    front = BloomFront.for_capacity(2_000_000, 16)  # 4 MiB of words
    front.add_many(LISTED)
    path = tmp_path / FRONT_FILE
    owner = FrontOwner("test", "store")
    save_front(path, front, 7, owner)
    mapped = map_front(path, owner)
    assert _mapping_rss_kib(path) <= 64, "verifying the checksum must not fault in the mapping"
    shared = SharedFront(mapped)
    assert all(shared.might_contain(key) for key in LISTED)
    assert _mapping_rss_kib(path) > 64, "lookups read the words through the mapping"


def test_publishing_an_unchanged_front_writes_from_the_mapping_and_fill_tiles_it(tmp_path: Path) -> None:
    """A front with nothing added since publication is published from its mapping (no copy of the words: at
    100M keys a copy is 512 MiB more for the loader), and fill() sets the bits words_view() holds, tiled."""
    path = tmp_path / FRONT_FILE
    owner = FrontOwner("test", "store")
    front = BloomFront.for_capacity(20_000, 16)
    front.add_many(LISTED)
    save_front(path, front, 3, owner)
    shared = SharedFront(map_front(path, owner))
    assert shared.base is not None and np.shares_memory(shared.published_words(), shared.base.words)
    later = [bytes((2,)) + os.urandom(16) for _ in range(50)]
    for key in later:
        shared.add(key)
    assert not np.shares_memory(shared.published_words(), shared.base.words)
    assert np.array_equal(shared.published_words(), shared.words_view())
    bigger = BloomFront(4 * shared.word_count)
    shared.fill(bigger.words_view())
    assert all(bigger.might_contain(key) for key in LISTED + later)
    tiled = np.tile(shared.base.words.astype(np.uint64), 4)
    assert np.array_equal(bigger.words_view() & tiled, tiled), "every bit of the mapped words, tiled"
