"""Trimming the changelog: the window by entries and by age, the low-water mark across restarts and replicas,
fronts that fall behind the mark, and a size that stays flat under churn (real RocksDB)."""

from __future__ import annotations

import shutil
from pathlib import Path

from rocksdict import WriteBatch

from risklist_server.core.mutation import Upsert
from risklist_server.store.changelog import Change, sequence_key
from risklist_server.store.changelog_trim import ChangelogWindow
from risklist_server.store.front_map import map_front
from risklist_server.store.reads import FRONT_FILE
from risklist_server.store.replica import ReplicaStore
from risklist_server.store.risk_store import RiskStore
from risklist_server.store.rocks import CHANGELOG_CF
from risklist_server.store.store_id import front_owner_of_store
from tests.server.store.test_replica import CONTRIBUTION

T0 = 1_800_000_000
HOUR = 3600
FOREVER = 10**9


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def key(number: int) -> bytes:
    return b"\x01" + number.to_bytes(16, "big")


def open_store(path: Path, clock: Clock | None = None, *, create: bool = False) -> RiskStore:
    return RiskStore(path, secret_fingerprint="test", create=create, clock=clock or Clock())


def write(store: RiskStore, first: int, count: int) -> None:
    """`count` writes, one key each (so one changelog entry each), keys first … first+count-1."""
    for number in range(first, first + count):
        store.apply([Upsert(key(number), CONTRIBUTION)])


def sequences(store: RiskStore) -> list[int]:
    return [sequence for sequence, _ in store.changes_since(0)]


def test_the_window_by_entries_keeps_the_newest_entries(tmp_path: Path) -> None:
    """With max_entries 10, 25 writes leave entries 16-25; the mark is 15 and everything after it is there."""
    with open_store(tmp_path / "db", create=True) as store:
        write(store, 0, 25)
        done = store.trim_changelog(ChangelogWindow(max_entries=10, max_age=FOREVER))
        assert (done.trimmed, done.trimmed_through, store.trimmed_through) == (15, 15, 15)
        assert sequences(store) == list(range(16, 26))
        assert store.trim_changelog(ChangelogWindow(max_entries=10, max_age=FOREVER)).trimmed == 0
        assert store.version == 25 and all(store.lookup(key(number)) for number in range(25))


def test_the_window_by_age_trims_entries_older_than_the_cutoff(tmp_path: Path) -> None:
    """Entries written 80, 50 and 10 hours ago, with max_age 72 h: only the oldest hour's go."""
    clock = Clock(T0)
    with open_store(tmp_path / "db", clock, create=True) as store:
        write(store, 0, 3)  # at T0
        clock.now = T0 + 30 * HOUR
        write(store, 3, 2)
        clock.now = T0 + 70 * HOUR
        write(store, 5, 1)
        clock.now = T0 + 80 * HOUR
        window = ChangelogWindow(max_entries=FOREVER, max_age=72 * HOUR)
        assert store.trim_changelog(window).trimmed_through == 3
        assert sequences(store) == [4, 5, 6]
        clock.now = T0 + 200 * HOUR  # everything is old now: the newest entry stays
        assert store.trim_changelog(window).trimmed_through == 5
        assert sequences(store) == [6]


def test_a_clock_set_back_only_keeps_more(tmp_path: Path) -> None:
    """An entry stamped later than the ones after it stops the trim by age there (never skips ahead)."""
    clock = Clock(T0 + 100 * HOUR)
    with open_store(tmp_path / "db", clock, create=True) as store:
        write(store, 0, 1)
        clock.now = T0
        write(store, 1, 3)
        clock.now = T0 + 150 * HOUR
        assert store.trim_changelog(ChangelogWindow(max_entries=FOREVER, max_age=72 * HOUR)).trimmed == 0


def test_untimed_entries_go_with_the_first_timed_entry_after_them(tmp_path: Path) -> None:
    """Version 1 entries (no time) are kept by age until the timed entry after them is trimmed, or by the cap."""
    clock = Clock(T0)
    with open_store(tmp_path / "db", clock, create=True) as store:
        write_untimed(store, {sequence: b"\x01\x01" + key(100 + sequence) for sequence in (1, 2, 3)})
    clock.now = T0 + 10 * HOUR
    with open_store(tmp_path / "db", clock) as store:
        assert store.version == 3
        by_age = ChangelogWindow(max_entries=FOREVER, max_age=72 * HOUR)
        clock.now = T0 + 1000 * HOUR  # untimed entries alone: no age to go by, the newest is kept anyway
        assert store.trim_changelog(by_age).trimmed == 0
        clock.now = T0 + 10 * HOUR
        write(store, 0, 2)  # sequences 4 and 5, at T0 + 10 h
        clock.now = T0 + 50 * HOUR
        write(store, 2, 1)  # sequence 6
        clock.now = T0 + 100 * HOUR
        assert store.trim_changelog(by_age).trimmed_through == 5
        assert sequences(store) == [6]
        assert [change.key for change in next(iter(store.changes_since(5)))[1]] == [key(2)]
    with open_store(tmp_path / "other", clock, create=True) as store:
        write_untimed(store, {sequence: b"\x01" for sequence in (1, 2, 3, 4)})
    with open_store(tmp_path / "other", clock) as store:
        assert store.trim_changelog(ChangelogWindow(max_entries=2, max_age=FOREVER)).trimmed_through == 2


def test_untimed_entries_are_read_by_one_trim_only(tmp_path: Path) -> None:
    """Once a trim has read past the untimed prefix, later trims start after it (it is never read again)."""
    clock = Clock(T0)
    with open_store(tmp_path / "db", clock, create=True) as store:
        write_untimed(store, {sequence: b"\x01\x01" + key(100 + sequence) for sequence in (1, 2, 3)})
    with open_store(tmp_path / "db", clock) as store:
        write(store, 0, 2)  # sequences 4 and 5, at T0
        by_age = ChangelogWindow(max_entries=FOREVER, max_age=72 * HOUR)
        assert store.trim_changelog(by_age).trimmed == 0
        write_untimed(store, {2: b"\x09"})  # unreadable now: a second read of it would raise
        clock.now = T0 + 100 * HOUR
        assert store.trim_changelog(by_age).trimmed_through == 4
        assert sequences(store) == [5]


def write_untimed(store: RiskStore, entries: dict[int, bytes]) -> None:
    """Put version 1 entries at their sequences, as a server before timed entries wrote them (reopen to see them)."""
    handle = store._db.get_column_family_handle(CHANGELOG_CF)
    batch = WriteBatch(raw_mode=True)
    for sequence, value in entries.items():
        batch.put(sequence_key(sequence), value, handle)
    store._db.write(batch)


def test_a_restart_keeps_the_low_water_mark_and_the_version(tmp_path: Path) -> None:
    """Closed and reopened, the store still knows how far it was trimmed, and its version goes on from there."""
    path, clock = tmp_path / "db", Clock()
    with open_store(path, clock, create=True) as store:
        write(store, 0, 30)
        clock.now += 2 * HOUR
        store.trim_changelog(ChangelogWindow(max_entries=1_000, max_age=HOUR))  # by age: all but the newest
        assert sequences(store) == [30]
    with open_store(path) as store:
        assert (store.version, store.trimmed_through) == (30, 29)
        write(store, 30, 1)
        assert sequences(store) == [30, 31]
        assert all(store.lookup(key(number)) for number in range(31))


def test_a_saved_front_older_than_the_mark_is_rebuilt_not_caught_up(tmp_path: Path) -> None:
    """A front file covering less than the mark (a crash before it was saved again) is rebuilt from the records."""
    path = tmp_path / "db"
    with open_store(path, create=True) as store:
        write(store, 0, 2)
        store.persist_front()
        shutil.copy(path / FRONT_FILE, tmp_path / "old-front")  # what a kill -9 now would leave
        write(store, 2, 40)
        store.trim_changelog(ChangelogWindow(max_entries=5, max_age=FOREVER))
    shutil.copy(tmp_path / "old-front", path / FRONT_FILE)
    with open_store(path) as store:
        assert store.trimmed_through == 37
        assert all(store.lookup(key(number)) for number in range(42))


def test_the_trim_publishes_the_front_before_passing_it(tmp_path: Path) -> None:
    """After a trim, the published front file covers at least the mark, and the writer serves from its mapping."""
    path = tmp_path / "db"
    with open_store(path, create=True) as store:
        write(store, 0, 20)
        assert store.front.base is not None and store.front.base.covered_sequence == 0
        done = store.trim_changelog(ChangelogWindow(max_entries=3, max_age=FOREVER))
        mapped = map_front(path / FRONT_FILE, front_owner_of_store(path, "test"))
        assert mapped.covered_sequence >= done.trimmed_through == 17
        assert store.front.base is not None and store.front.base.covered_sequence == mapped.covered_sequence
        assert all(store.lookup(key(number)) for number in range(20))


def test_a_replica_maps_the_front_the_trim_published(tmp_path: Path) -> None:
    """A replica behind the mark after catching up maps the file the trim published: every listed key is found
    through the shared front, none missed, and it never rebuilds a private one."""
    path = tmp_path / "db"
    with open_store(path, create=True) as writer:
        write(writer, 0, 3)
        with ReplicaStore(path, tmp_path / "sec", secret_fingerprint="test") as replica:
            assert replica.version == 3
            write(writer, 3, 50)
            writer.trim_changelog(ChangelogWindow(max_entries=4, max_age=FOREVER))
            assert replica.catch_up() == 53
            assert replica.trimmed_through == writer.trimmed_through == 49
            assert replica.front.base is not None and replica.front.base.covered_sequence == 53
            assert all(replica.lookup(key(number)) for number in range(53))
            write(writer, 53, 1)
            assert replica.catch_up() == 54 and replica.lookup(key(53))


def test_a_replica_whose_front_file_is_older_than_the_mark_fails_closed_until_republished(tmp_path: Path) -> None:
    """A front file older than the mark (put back from outside) cannot be caught up: the replica drops it and asks
    RocksDB for every key (no private rebuild), then maps the file the writer publishes again."""
    path = tmp_path / "db"
    with open_store(path, create=True) as writer:
        write(writer, 0, 2)
        writer.persist_front()
        shutil.copy(path / FRONT_FILE, tmp_path / "old-front")
        write(writer, 2, 40)
        writer.trim_changelog(ChangelogWindow(max_entries=5, max_age=FOREVER))
        with ReplicaStore(path, tmp_path / "sec", secret_fingerprint="test") as replica:
            assert replica.front.base is not None
            shutil.copy(tmp_path / "old-front", tmp_path / "staged")
            (tmp_path / "staged").rename(path / FRONT_FILE)  # renamed over, as a publication would be
            assert replica.catch_up() == 42
            assert replica.front.base is None  # every key a candidate: RocksDB answers
            assert all(replica.lookup(key(number)) for number in range(42))
            assert replica.lookup(key(99)) is None
            write(writer, 42, 1)
            assert replica.catch_up() == 43 and replica.front.base is None and replica.lookup(key(42))
            writer.check_front_file()  # the writer sees the file replaced and publishes again
            assert replica.catch_up() == 43
            assert replica.front.base is not None and replica.front.base.covered_sequence == 43
            assert all(replica.lookup(key(number)) for number in range(43))


def test_the_changelog_stays_flat_under_churn(tmp_path: Path) -> None:
    """Twenty times the window in writes, trimmed as the writer does: entries and bytes on disk stay bounded."""
    window = ChangelogWindow(max_entries=500, max_age=FOREVER)
    sizes: list[int] = []
    with open_store(tmp_path / "db", create=True) as store:
        for round_number in range(20):
            for number in range(500):
                base = (round_number * 500 + number) * 4
                store.apply([Upsert(key(base + offset), CONTRIBUTION) for offset in range(4)])
            done = store.trim_changelog(window)
            store.compact_changelog(done.trimmed_through)
            assert len(sequences(store)) == 500
            assert store._changelog.property_int_value("rocksdb.estimate-num-keys") == 500
            sizes.append(store.changelog_bytes())
        assert store.version == 10_000
    # 500 entries of 4 changes (~90 bytes each, compressed) stay some 50 KB; 10,000 would be ~20x that.
    assert max(sizes) < 100_000
    assert max(sizes[10:]) <= 1.2 * max(sizes[:10])
    assert [change.key for change in next(iter(store_changes(tmp_path / "db")))] == [
        key(9_500 * 4 + offset) for offset in range(4)]


def store_changes(path: Path) -> list[list[Change]]:
    with open_store(path) as store:
        return [changes for _, changes in store.changes_since(store.trimmed_through)]
