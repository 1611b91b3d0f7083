"""The outcome key: made once by the writer, kept in the store, the same for every replica and every reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from risklist_kernel.secret import NetworkSecret
from risklist_server.core.errors import StoreError
from risklist_server.core.outcome import SourceTally
from risklist_server.store.outcome_key import OUTCOME_KEY
from risklist_server.store.replica import ReplicaStore
from risklist_server.store.risk_store import RiskStore, init_store
from risklist_server.store.rocks import META_CF, OUTCOMES_CF, open_rocks


def _replica(path: Path, tmp_path: Path, secret: NetworkSecret) -> ReplicaStore:
    return ReplicaStore(path, tmp_path / "secondary", secret_fingerprint=secret.fingerprint)


def test_the_writer_makes_the_key_once(tmp_path: Path, secret: NetworkSecret) -> None:
    """A new store gets 32 random bytes; reopening and every replica see the same ones."""
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        key = store.outcome_key()
    assert key is not None and len(key) == 32
    with RiskStore(tmp_path / "db", secret_fingerprint=secret.fingerprint) as store:
        assert store.outcome_key() == key
    replica = _replica(tmp_path / "db", tmp_path, secret)
    try:
        assert replica.outcome_key() == key
    finally:
        replica.close()
    other = tmp_path / "other"
    init_store(other, secret.fingerprint)
    with RiskStore(other, secret_fingerprint=secret.fingerprint) as store:
        assert store.outcome_key() != key  # never derived from the network secret


def _drop_key(path: Path) -> None:
    """Make the store look like one made before outcomes were verified."""
    db = open_rocks(str(path))
    try:
        db.get_column_family(META_CF).delete(OUTCOME_KEY)
    finally:
        db.close()


def test_a_store_made_before_gets_its_key_when_the_writer_opens_it(tmp_path: Path, secret: NetworkSecret) -> None:
    """A replica of a store without a key has none (so it issues no token); once the writer has opened the store,
    the replica finds the writer's key."""
    init_store(tmp_path / "db", secret.fingerprint)
    _drop_key(tmp_path / "db")
    replica = _replica(tmp_path / "db", tmp_path, secret)
    try:
        assert replica.outcome_key() is None
        with RiskStore(tmp_path / "db", secret_fingerprint=secret.fingerprint) as store:
            key = store.outcome_key()
            replica.catch_up()
            assert key is not None and replica.outcome_key() == key
    finally:
        replica.close()


def test_a_damaged_key_stops_the_store_from_opening(tmp_path: Path, secret: NetworkSecret) -> None:
    """A stored key of the wrong length is a StoreError, never a key silently replaced."""
    init_store(tmp_path / "db", secret.fingerprint)
    db = open_rocks(str(tmp_path / "db"))
    try:
        db.get_column_family(META_CF).put(OUTCOME_KEY, b"short")
    finally:
        db.close()
    with pytest.raises(StoreError, match="outcome key has 5 bytes"):
        RiskStore(tmp_path / "db", secret_fingerprint=secret.fingerprint)


def test_legacy_tallies_are_kept_apart(tmp_path: Path, secret: NetworkSecret) -> None:
    """Tallies recorded before outcomes were verified read as legacy, never as the verified tallies."""
    init_store(tmp_path / "db", secret.fingerprint)
    db = open_rocks(str(tmp_path / "db"))
    try:
        db.get_column_family(OUTCOMES_CF).put(b"t" + b"bank-a", SourceTally(false_positive=300).encode())
    finally:
        db.close()
    with RiskStore(tmp_path / "db", secret_fingerprint=secret.fingerprint) as store:
        assert store.source_tallies() == {}
        assert store.legacy_source_tallies() == {"bank-a": SourceTally(false_positive=300)}
