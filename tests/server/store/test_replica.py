"""ReplicaStore follows the writer through RocksDB secondary catch-up and the changelog."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.errors import StoreError
from risklist_server.core.mutation import Mutation, Removal, Upsert, apply_mutation
from risklist_server.core.record import Contribution, Record
from risklist_server.store.reads import FRONT_FILE, FrontPolicy
from risklist_server.store.replica import ReplicaStore
from risklist_server.store.risk_store import RiskStore
from tests.server.store.test_store import KEYS, mutations

CONTRIBUTION = Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, 1_700_000_000, 2_000_000_000, "r")


def _writer(path: Path) -> RiskStore:
    return RiskStore(path, create=True, secret_fingerprint="test")


def _replica(path: Path, secondary: Path, policy: FrontPolicy | None = None) -> ReplicaStore:
    return ReplicaStore(path, secondary, secret_fingerprint="test", front_policy=policy or FrontPolicy())


def test_write_is_invisible_until_catch_up_then_visible(tmp_path: Path) -> None:
    """A replica answers from its last catch-up; catch_up makes the new write visible, version included."""
    with _writer(tmp_path / "db") as writer, _replica(tmp_path / "db", tmp_path / "sec") as replica:
        writer.apply([Upsert(KEYS[0], CONTRIBUTION)])
        assert replica.lookup(KEYS[0]) is None
        assert replica.catch_up() == writer.version == 1
        assert replica.lookup(KEYS[0]) == (CONTRIBUTION,)
        assert replica.lookup_many(KEYS[:2]) == [(CONTRIBUTION,), None]
        writer.apply([Removal(KEYS[0], "bank-a", None)])
        replica.catch_up()
        assert replica.lookup(KEYS[0]) is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(mutations, min_size=1, max_size=6), max_size=10), st.booleans())
def test_replica_matches_writer_after_every_catch_up(batches: list[list[Mutation]], reopen_writer: bool) -> None:
    """After any batches (and a writer restart), a caught-up replica answers exactly as the model says."""
    with tempfile.TemporaryDirectory() as directory:
        path, secondary = Path(directory) / "db", Path(directory) / "sec"
        writer = _writer(path)
        replica = _replica(path, secondary)
        model: dict[bytes, Record] = {}
        try:
            for number, batch in enumerate(batches):
                if reopen_writer and number == len(batches) // 2:
                    writer.close()
                    writer = _writer(path)
                writer.apply(batch)
                for mutation in batch:
                    model[mutation.key] = apply_mutation(model.get(mutation.key, ()), mutation)
                assert replica.catch_up() == writer.version
                assert [replica.lookup(key) or () for key in KEYS] == [model.get(key, ()) for key in KEYS]
                assert [r or () for r in replica.lookup_many(KEYS)] == [model.get(key, ()) for key in KEYS]
        finally:
            replica.close()
            writer.close()


def test_replica_catches_its_front_up_from_an_older_saved_front(tmp_path: Path) -> None:
    """A replica opening on a front saved before later writes adds those writes' keys from the changelog."""
    path = tmp_path / "db"
    with _writer(path) as writer:
        writer.apply([Upsert(KEYS[0], CONTRIBUTION)])
        writer.persist_front()
        writer.apply([Upsert(KEYS[1], CONTRIBUTION)])
        with _replica(path, tmp_path / "sec") as replica:
            assert replica.version == 2
            assert replica.front.might_contain(KEYS[1])
            assert replica.lookup(KEYS[1]) == (CONTRIBUTION,)


def test_replica_without_a_front_file_asks_rocksdb(tmp_path: Path) -> None:
    """Without a front file every key is a front candidate, so RocksDB answers and no listed key is missed."""
    path = tmp_path / "db"
    with _writer(path) as writer:
        writer.apply([Upsert(key, CONTRIBUTION) for key in KEYS[:5]])
        (path / FRONT_FILE).unlink(missing_ok=True)
        with _replica(path, tmp_path / "sec") as replica:
            assert replica.front.base is None
            assert all(replica.lookup(key) == (CONTRIBUTION,) for key in KEYS[:5])
            assert [r for r in replica.lookup_many(KEYS)] == [(CONTRIBUTION,)] * 5 + [None] * (len(KEYS) - 5)


def test_replica_refuses_another_secret_and_a_missing_store(tmp_path: Path) -> None:
    """Opening under another secret's fingerprint, or where no store exists, is a clear StoreError."""
    with _writer(tmp_path / "db"), pytest.raises(StoreError, match="another network secret"):
        ReplicaStore(tmp_path / "db", tmp_path / "sec", secret_fingerprint="other")
    with pytest.raises(StoreError, match="no store at"):
        ReplicaStore(tmp_path / "nowhere", tmp_path / "sec2", secret_fingerprint="test")


def test_closed_replica_refuses_catch_up(tmp_path: Path) -> None:
    """catch_up after close raises StoreError instead of touching a released database."""
    with _writer(tmp_path / "db"):
        replica = _replica(tmp_path / "db", tmp_path / "sec")
        replica.close()
        replica.close()
        with pytest.raises(StoreError, match="closed"):
            replica.catch_up()


def test_replica_grows_an_overfull_overlay_and_misses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys listed after the published file fill the overlay; it grows past its capacity, keeping every key."""
    monkeypatch.setattr("risklist_server.store.shared_front.OVERLAY_CAPACITY", 1)  # the smallest: 1024 words
    path = tmp_path / "db"
    with _writer(path) as writer:
        writer.persist_front()
        with _replica(path, tmp_path / "sec") as replica:
            keys = [bytes((1,)) + n.to_bytes(16, "big") for n in range(3 * 1024 * 64 // 16)]
            writer.apply([Upsert(key, CONTRIBUTION) for key in keys])
            replica.catch_up()
            assert replica.front.overlay_keys == len(keys)
            assert replica.front.might_contain_many(keys).all()
            assert all(record == (CONTRIBUTION,) for record in replica.lookup_many(keys))


def test_a_reader_behind_the_front_leaves_rocksdbs_sst_filters_unloaded(tmp_path: Path) -> None:
    """Behind the front (every check screened) a reader holds only the SST files' indexes; a reader that answers
    some calls without the front holds their Bloom filters too. Both answer alike."""
    keys = [bytes((1,)) + number.to_bytes(16, "big") for number in range(20_000)]
    with _writer(tmp_path / "db") as writer:
        writer.apply([Upsert(key, CONTRIBUTION) for key in keys])
        writer.flush()
    held = {}
    for name, policy in (("screened", FrontPolicy()), ("unscreened", FrontPolicy(single=False, batch=False))):
        with _replica(tmp_path / "db", tmp_path / f"sec-{name}", policy) as replica:
            replica.catch_up()
            assert replica.lookup_many(keys[:3] + [bytes(17)]) == [(CONTRIBUTION,)] * 3 + [None]
            held[name] = replica.table_readers_bytes()
    assert held["screened"] + 20_000 < held["unscreened"]  # 10 bits a key of filters: some 25 kB here
