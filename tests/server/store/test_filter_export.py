"""The partner filter: snapshots of a real store, deltas from its changelog, and the reset cases."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from risklist_kernel.bloom import BlockedBloom, expected_false_positive_rate
from risklist_kernel.digest import KEY_SIZE
from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Removal, Upsert
from risklist_server.core.record import Contribution
from risklist_server.store.changelog import Change
from risklist_server.store.filter_export import KEYS_PER_UPDATE, FilterDelta, FilterExport
from risklist_server.store.front import BloomFront
from risklist_server.store.risk_store import RiskStore

CONTRIBUTION = Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, 1_700_000_000, 4_000_000_000)


def random_keys(count: int) -> list[bytes]:
    return [b"\x03" + os.urandom(16) for _ in range(count)]


def list_keys(store: RiskStore, keys: list[bytes]) -> None:
    store.apply([Upsert(key, CONTRIBUTION) for key in keys])


def unlist_keys(store: RiskStore, keys: list[bytes]) -> None:
    store.apply([Removal(key, "bank-a") for key in keys])


def export_of(store: RiskStore, **options: object) -> FilterExport:
    settings: dict[str, object] = {"bits_per_key": 16, "max_removed": 1000, "snapshot_max_age": 0.0,
                                   "catch_up_grace": 0.05}
    settings.update(options)
    return FilterExport(store, **settings)  # type: ignore[arg-type]


def added(deltas: list[FilterDelta]) -> list[bytes]:
    data = b"".join(delta.added_keys for delta in deltas)
    return [data[offset : offset + KEY_SIZE] for offset in range(0, len(data), KEY_SIZE)]


def test_snapshot_holds_every_listed_key_at_its_version(store: RiskStore) -> None:
    """A snapshot passes every key listed at its version, its checksum is the data's SHA-256, and its size fits."""
    keys = random_keys(3000)
    list_keys(store, keys[:2000])
    list_keys(store, keys[2000:])
    snapshot = export_of(store).snapshot()
    assert snapshot.version == store.version == 2
    data = bytes(snapshot.data)
    assert len(data) == snapshot.word_count * 8
    assert hashlib.sha256(data).digest() == snapshot.sha256
    client = BlockedBloom(snapshot.word_count, data)
    assert all(client.might_contain(key) for key in keys)
    assert snapshot.word_count * 64 >= 3000 * 16
    assert snapshot.false_positive_rate == expected_false_positive_rate(snapshot.word_count, snapshot.key_count)


def test_folding_the_front_equals_building_the_small_filter_directly() -> None:
    """The snapshot folded from a large front is bit for bit the filter its keys build at the small size."""

    @dataclass
    class Source:
        front: BloomFront
        version: int = 7
        trimmed_through: int = 0

        def changes_since(self, sequence: int) -> Iterator[tuple[int, list[Change]]]:
            return iter(())

    keys = random_keys(5000)
    front = BloomFront(1 << 16)
    front.add_many(keys)
    snapshot = FilterExport(Source(front), bits_per_key=8, max_removed=0).snapshot()
    assert snapshot.word_count == 1024
    direct = BlockedBloom(1024)
    direct.add_many(keys)
    assert bytes(snapshot.data) == direct.to_bytes()


def test_snapshot_false_positive_rate_matches_its_estimate(store: RiskStore) -> None:
    """Absent keys pass the snapshot at about the rate its header announces."""
    list_keys(store, random_keys(20_000))
    snapshot = export_of(store, bits_per_key=8).snapshot()
    client = BlockedBloom(snapshot.word_count, bytes(snapshot.data))
    probes = random_keys(50_000)
    measured = sum(client.might_contain(key) for key in probes) / len(probes)
    assert snapshot.false_positive_rate / 2 < measured < snapshot.false_positive_rate * 2


def test_updates_carry_the_keys_listed_since_a_version(store: RiskStore) -> None:
    """Updates since v hold exactly the keys listed after v, the keys unlisted since, and end at the current version."""
    first, second, third = random_keys(10), random_keys(20), random_keys(5)
    list_keys(store, first)
    since = store.version
    list_keys(store, second)
    unlist_keys(store, first[:3])
    list_keys(store, third)
    deltas = list(export_of(store).updates(since))
    assert not any(delta.reset for delta in deltas)
    assert deltas[-1].version == store.version
    assert sorted(added(deltas)) == sorted(second + third)
    assert sum(delta.removed_count for delta in deltas) == 3
    removed = b"".join(delta.removed_keys for delta in deltas)
    assert sorted(removed[offset : offset + 17] for offset in range(0, len(removed), 17)) == sorted(first[:3])


def test_updates_at_the_current_version_say_so_with_no_keys(store: RiskStore) -> None:
    """A client already current gets one empty update at its own version."""
    list_keys(store, random_keys(3))
    assert list(export_of(store).updates(store.version)) == [FilterDelta(store.version)]


def test_updates_are_cut_into_messages_of_at_most_a_mebibyte(store: RiskStore) -> None:
    """A large delta arrives in ≤ 1 MiB messages whose versions never run ahead of the keys they carried."""
    keys = random_keys(KEYS_PER_UPDATE + 500)
    list_keys(store, keys)
    deltas = list(export_of(store).updates(0))
    assert [len(delta.added_keys) // KEY_SIZE for delta in deltas] == [KEYS_PER_UPDATE, 500]
    assert [delta.version for delta in deltas] == [0, 1]
    assert all(len(delta.added_keys) <= 1 << 20 for delta in deltas)


def test_updates_reset_when_too_many_keys_were_unlisted(store: RiskStore) -> None:
    """More removals since the client's version than the bound: reset (its filter would hold too many stale keys)."""
    keys = random_keys(30)
    list_keys(store, keys)
    since = store.version
    unlist_keys(store, keys[:11])
    assert list(export_of(store, max_removed=11).updates(since))[-1].reset is False
    unlisted_more = list(export_of(store, max_removed=10).updates(since))
    assert unlisted_more[-1].reset is True


def test_updates_reset_when_the_client_is_ahead_of_the_server(store: RiskStore) -> None:
    """A version newer than the server's (after the catch-up grace): reset, at the server's version."""
    list_keys(store, random_keys(2))
    assert list(export_of(store).updates(store.version + 5)) == [FilterDelta(store.version, reset=True)]


def test_a_cluster_node_behind_the_client_changes_nothing_and_keeps_no_thread_waiting(store: RiskStore) -> None:
    """On a cluster node (versions are the log's, the same on every node) a client that updated from a node further
    along gets one update at its own version that adds nothing: this node will reach that version with the same
    entries, so the client's filter stays valid (a reset would download it again on every failover to a lagging
    node). The answer does not wait for the node to catch up."""
    list_keys(store, random_keys(2))
    readings: list[float] = []

    def clock() -> float:  # each reading 1,000 s later: a wait for the grace ends after a few readings
        readings.append(1000.0 * len(readings))
        return readings[-1]

    ahead = store.version + 5
    updates = list(export_of(store, log_versions=True, catch_up_grace=3600.0, clock=clock).updates(ahead))
    assert updates == [FilterDelta(ahead)]
    assert updates[0].added_keys == b"" and updates[0].removed_count == 0 and not updates[0].reset
    assert readings == []  # it never waited for the grace


def test_updates_reset_when_the_changelog_no_longer_reaches_back() -> None:
    """A changelog starting after the client's version cannot say what changed: reset."""

    @dataclass
    class TrimmedSource:
        front: BloomFront = field(default_factory=lambda: BloomFront(1024))
        version: int = 12
        trimmed_through: int = 0
        """Not moved: the missing entries alone must make it a reset."""

        def changes_since(self, sequence: int) -> Iterator[tuple[int, list[Change]]]:
            for number in range(max(sequence + 1, 10), 13):
                yield number, [Change(b"\x01" + bytes(16), True)]

    export = FilterExport(TrimmedSource(), bits_per_key=16, max_removed=10)
    assert list(export.updates(3)) == [FilterDelta(12, reset=True)]
    assert not list(export.updates(9))[-1].reset


def test_updates_reset_when_a_trim_after_the_version_was_read_removed_the_entries() -> None:
    """The view moved on between reading its version and its entries (a replica's catch-up brought a trim):
    the first entry found is past both the client's version and the target, and still a reset, not a delta."""

    @dataclass
    class MovedOn:
        front: BloomFront = field(default_factory=lambda: BloomFront(1024))
        version: int = 7
        trimmed_through: int = 0

        def changes_since(self, sequence: int) -> Iterator[tuple[int, list[Change]]]:
            yield 9, [Change(b"\x01" + bytes(16), True)]

    assert list(FilterExport(MovedOn(), bits_per_key=16, max_removed=10).updates(5)) == [FilterDelta(7, reset=True)]


def test_snapshots_are_reused_while_young(store: RiskStore) -> None:
    """Within snapshot_max_age the same snapshot serves every download; after it, a new one is built."""
    now = [100.0]
    export = FilterExport(store, bits_per_key=16, max_removed=10, snapshot_max_age=5, clock=lambda: now[0])
    first = export.snapshot()
    list_keys(store, random_keys(1))
    assert export.snapshot() is first
    now[0] += 6
    assert export.snapshot().version == store.version != first.version


def test_snapshot_words_are_little_endian() -> None:
    """The data is the words in little-endian order, whatever the machine's byte order."""
    front = BloomFront(1024)
    front.add(b"\x01" + bytes(16))
    snapshot = FilterExport(_Static(front), bits_per_key=64, max_removed=0).snapshot()
    assert np.frombuffer(bytes(snapshot.data), dtype="<u8").tolist() == front.words_view().tolist()


@dataclass
class _Static:
    front: BloomFront
    version: int = 1
    trimmed_through: int = 0

    def changes_since(self, sequence: int) -> Iterator[tuple[int, list[Change]]]:
        return iter(())
