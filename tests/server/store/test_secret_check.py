"""The secret check: a store opens only with the network secret it was built with."""

from __future__ import annotations

from pathlib import Path

import pytest

from risklist_server.core.errors import StoreError
from risklist_server.store.rocks import META_CF, SECRET_FINGERPRINT_KEY, open_rocks
from risklist_server.store.secret_check import check_replica_secret, check_writer_secret


def test_writer_records_the_fingerprint_in_a_new_store_and_accepts_it_again(tmp_path: Path) -> None:
    """An empty store takes the first fingerprint it sees; the same one passes afterwards."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    meta = db.get_column_family(META_CF)
    check_writer_secret(tmp_path, db, meta, "abc", create=True)
    assert meta[SECRET_FINGERPRINT_KEY] == b"abc"
    check_writer_secret(tmp_path, db, meta, "abc")
    with pytest.raises(StoreError, match=r"another network secret \(fingerprint abc, given xyz\); use the secret "
                                         r"it was built with, or build a new store"):
        check_writer_secret(tmp_path, db, meta, "xyz")
    meta.close()
    db.close()


def test_writer_refuses_records_without_a_fingerprint(tmp_path: Path) -> None:
    """A store holding records but no fingerprint is refused (its digests' secret is unknown)."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    meta = db.get_column_family(META_CF)
    db[b"\x01" * 17] = b"record"
    with pytest.raises(StoreError, match="has records but no secret fingerprint"):
        check_writer_secret(tmp_path, db, meta, "abc", create=True)
    assert meta.get(SECRET_FINGERPRINT_KEY) is None
    meta.close()
    db.close()


def test_a_store_without_a_secret_marker_is_refused_unless_created(tmp_path: Path) -> None:
    """Only a store being created takes a fingerprint: the server's writer refuses an unmarked store."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    meta = db.get_column_family(META_CF)
    with pytest.raises(StoreError, match="has no secret marker"):
        check_writer_secret(tmp_path, db, meta, "abc")
    assert meta.get(SECRET_FINGERPRINT_KEY) is None
    meta.close()
    db.close()


def test_replica_refuses_another_fingerprint_and_never_writes_one(tmp_path: Path) -> None:
    """A replica refuses a store without a fingerprint (writing nothing) and a different one."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    meta = db.get_column_family(META_CF)
    with pytest.raises(StoreError, match="has no secret marker"):
        check_replica_secret(tmp_path, meta, "abc")
    assert meta.get(SECRET_FINGERPRINT_KEY) is None
    meta[SECRET_FINGERPRINT_KEY] = b"abc"
    check_replica_secret(tmp_path, meta, "abc")
    with pytest.raises(StoreError, match=r"\(fingerprint abc, given xyz\); use the secret it was built with$"):
        check_replica_secret(tmp_path, meta, "xyz")
    meta.close()
    db.close()
