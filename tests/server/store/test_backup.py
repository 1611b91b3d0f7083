"""A backup holds every column family at one version, verify catches any damage, restore refuses what it must."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from risklist_kernel.enums import Category, Outcome, RiskLevel
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.backup_manifest import completion_marker
from risklist_server.core.errors import BackupError
from risklist_server.core.mutation import Removal, Upsert
from risklist_server.core.record import Contribution
from risklist_server.store.backup_verify import verify_backup
from risklist_server.store.changelog import decode_changes, sequence_key
from risklist_server.store.checkpoint import COMPLETE_FILE, MANIFEST_FILE, STORE_DIR, file_sha256
from risklist_server.store.filter_export import FilterExport
from risklist_server.store.front_map import map_front
from risklist_server.store.reads import FRONT_FILE
from risklist_server.store.restore import VERSION_GAP, restore_backup
from risklist_server.store.risk_store import RiskStore
from risklist_server.store.rocks import CHANGELOG_CF, COLUMN_FAMILIES, RECORDS_CF, iter_items, open_rocks_read_only
from risklist_server.store.store_id import front_owner_of_store
from tests.support.small_disk import small_disk

NOW = 1_800_000_000
KEYS = [b"\x03" + bytes([i]) * 16 for i in range(1, 6)]


def _fill(store: RiskStore) -> None:
    """Records, changelog, snapshot marks, outcomes and the meta keys (secret fingerprint, outcome key)."""
    for source in ("bank-a", "bank-b"):
        store.apply([Upsert(key, Contribution(source, Category.MONEY_MULE, RiskLevel.HIGH, NOW - 10, NOW + 10**6))
                     for key in KEYS], snapshot_source=source)
    store.record_outcome("bank-a", KEYS[0], Outcome.CONFIRMED_FRAUD, NOW)


def _every_family(path: Path, tmp_path: Path) -> dict[str, list[tuple[bytes, bytes]]]:
    db = open_rocks_read_only(str(path), str(tmp_path))
    try:
        families = {RECORDS_CF: list(iter_items(db))}
        for name in COLUMN_FAMILIES:
            table = db.get_column_family(name)
            families[name] = list(iter_items(table))
            table.close()
        return families
    finally:
        db.close()


@pytest.fixture()
def backed_up(tmp_path: Path, secret: NetworkSecret) -> Path:
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        _fill(store)
        store.backup(tmp_path / "backup")
    return tmp_path / "backup"


def test_restored_store_holds_every_column_family_as_backed_up(
    backed_up: Path, tmp_path: Path, secret: NetworkSecret
) -> None:
    """Records, changelog, meta, snapshot marks and outcomes all come back, and the store opens at its version."""
    manifest = verify_backup(backed_up, expected_fingerprint=secret.fingerprint)
    assert manifest.changelog_sequence == 2
    restore_backup(backed_up, tmp_path / "restored", secret_fingerprint=secret.fingerprint)
    original = _every_family(tmp_path / "db", tmp_path)
    assert all(original[name] for name in (RECORDS_CF, *COLUMN_FAMILIES))
    restored_families = _every_family(tmp_path / "restored", tmp_path)
    *backed_up_entries, (gap_key, gap_value) = restored_families.pop(CHANGELOG_CF)
    assert backed_up_entries == original.pop(CHANGELOG_CF)
    assert gap_key == sequence_key(2 + VERSION_GAP) and decode_changes(gap_value) == []
    assert restored_families == original
    with RiskStore(tmp_path / "restored", secret_fingerprint=secret.fingerprint) as restored:
        assert restored.version == 2 + VERSION_GAP
        assert all(restored.lookup(key) for key in KEYS)


def test_the_backups_front_is_the_stores_by_its_id_in_meta(backed_up: Path, tmp_path: Path,
                                                          secret: NetworkSecret) -> None:
    """The checkpoint has no RocksDB IDENTITY of the store's, yet its front file is the store's: the tag names the
    id in meta, which the checkpoint carries. A front of another store in its place fails verify."""
    source_owner = front_owner_of_store(tmp_path / "db", secret.fingerprint)
    assert source_owner.store_identity
    assert front_owner_of_store(backed_up / STORE_DIR, secret.fingerprint) == source_owner
    assert map_front(backed_up / STORE_DIR / FRONT_FILE, source_owner).covered_sequence == 2
    restore_backup(backed_up, tmp_path / "restored", secret_fingerprint=secret.fingerprint)
    restored_owner = front_owner_of_store(tmp_path / "restored", secret.fingerprint)
    assert restored_owner == source_owner
    assert map_front(tmp_path / "restored" / FRONT_FILE, restored_owner).covered_sequence == 2

    with RiskStore(tmp_path / "other", create=True, secret_fingerprint=secret.fingerprint) as other:
        other.apply([Upsert(KEYS[0], Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, NOW, NOW + 10))])
        other.apply([Upsert(KEYS[1], Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, NOW, NOW + 10))])
    front = backed_up / STORE_DIR / FRONT_FILE
    front.unlink()
    shutil.copy(tmp_path / "other" / FRONT_FILE, front)  # version 2 too, but another store's
    manifest = json.loads((backed_up / MANIFEST_FILE).read_text())
    for entry in manifest["files"]:
        if entry["name"] == FRONT_FILE:
            entry["size"], entry["sha256"] = front.stat().st_size, file_sha256(front)
    data = json.dumps(manifest).encode()
    (backed_up / MANIFEST_FILE).write_bytes(data)
    (backed_up / COMPLETE_FILE).write_bytes(completion_marker(data))
    with pytest.raises(BackupError, match="made for another store"):
        verify_backup(backed_up)


def test_backup_is_consistent_while_writes_follow(tmp_path: Path, secret: NetworkSecret) -> None:
    """A write after the backup is not in it, and the backup's version says so."""
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        _fill(store)
        store.backup(tmp_path / "backup")
        store.apply([Upsert(b"\x03" + b"\x09" * 16, Contribution("bank-c", Category.MONEY_MULE, RiskLevel.LOW,
                                                                  NOW, NOW + 1000))])
        assert store.version == 3
    restore_backup(tmp_path / "backup", tmp_path / "restored", secret_fingerprint=secret.fingerprint)
    with RiskStore(tmp_path / "restored", secret_fingerprint=secret.fingerprint) as restored:
        assert restored.version == 2 + VERSION_GAP and restored.lookup(b"\x03" + b"\x09" * 16) is None


def _damage_a_file(backup: Path) -> None:
    sst = sorted((backup / STORE_DIR).glob("*.sst"))[0]
    data = bytearray(sst.read_bytes())
    data[len(data) // 2] ^= 0xFF
    sst.write_bytes(bytes(data))


@pytest.mark.parametrize(("damage", "message"), [
    (lambda b: (b / COMPLETE_FILE).unlink(), "no COMPLETE"),
    (lambda b: (b / MANIFEST_FILE).write_bytes((b / MANIFEST_FILE).read_bytes() + b" "), "does not match"),
    (_damage_a_file, "does not match its manifest"),
    (lambda b: next((b / STORE_DIR).glob("MANIFEST-*")).unlink(), "missing MANIFEST-"),
    (lambda b: (b / STORE_DIR / "stray.log").write_bytes(b"x"), "not in its manifest: stray.log"),
])
def test_verify_and_restore_refuse_an_incomplete_or_damaged_backup(
    backed_up: Path, tmp_path: Path, secret: NetworkSecret, damage: object, message: str
) -> None:
    """A missing marker, an edited manifest, a flipped byte, a missing or extra file: refused, nothing restored."""
    assert callable(damage)
    damage(backed_up)
    with pytest.raises(BackupError, match=message):
        verify_backup(backed_up)
    with pytest.raises(BackupError, match=message):
        restore_backup(backed_up, tmp_path / "restored", secret_fingerprint=secret.fingerprint)
    assert not (tmp_path / "restored").exists()


def test_restore_refuses_another_secret_and_an_occupied_path(backed_up: Path, tmp_path: Path) -> None:
    """A backup made under another secret, or a store path already holding files, is refused."""
    other = NetworkSecret(b"\x07" * 32)
    with pytest.raises(BackupError, match="another network secret"):
        restore_backup(backed_up, tmp_path / "restored", secret_fingerprint=other.fingerprint)
    with pytest.raises(BackupError, match="never replaces a store"):
        restore_backup(backed_up, tmp_path / "db", secret_fingerprint=verify_backup(backed_up).secret_fingerprint)


def test_backup_refuses_a_non_empty_directory(backed_up: Path, tmp_path: Path, secret: NetworkSecret) -> None:
    """A backup never writes into a directory that already holds something (an older or interrupted backup)."""
    with RiskStore(tmp_path / "db", secret_fingerprint=secret.fingerprint) as store, \
            pytest.raises(BackupError, match="not empty"):
        store.backup(backed_up)


def test_backup_refuses_a_directory_inside_the_store(tmp_path: Path, secret: NetworkSecret) -> None:
    """A backup inside the store's own directory would become part of the store: refused."""
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store, \
            pytest.raises(BackupError, match="inside the store"):
        store.backup(tmp_path / "db" / "backup")


def test_restore_into_an_empty_directory_replaces_it_and_removes_a_leftover_copy(
    backed_up: Path, tmp_path: Path, secret: NetworkSecret
) -> None:
    """An empty store directory (say, a mount point's subdirectory made ready) takes the restore; a copy an
    interrupted restore left beside it is removed first."""
    (tmp_path / "restored").mkdir()
    (tmp_path / ".restored.restoring").mkdir()
    (tmp_path / ".restored.restoring" / "000001.sst").write_bytes(b"half")
    restore_backup(backed_up, tmp_path / "restored", secret_fingerprint=secret.fingerprint)
    assert not (tmp_path / ".restored.restoring").exists()
    with RiskStore(tmp_path / "restored", secret_fingerprint=secret.fingerprint) as restored:
        assert restored.version == 2 + VERSION_GAP


def test_a_full_disk_fails_backup_and_restore_cleanly_and_a_rerun_completes(
    tmp_path: Path, secret: NetworkSecret
) -> None:
    """No space for the backup or the restored copy: one BackupError saying so, no complete backup, the store
    path untouched and no copy left; once space is freed both complete."""
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        for start in range(0, 60_000, 5_000):
            store.apply([Upsert(b"\x03" + index.to_bytes(16, "big"),
                                Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, NOW, NOW + 10**6))
                         for index in range(start, start + 5_000)])
        store.flush()
    with small_disk(tmp_path / "disk", size="1m") as disk:
        with RiskStore(tmp_path / "db", secret_fingerprint=secret.fingerprint) as store, \
                pytest.raises(BackupError, match="back up again|into an empty directory"):
            store.backup(disk.path / "backup")
        with pytest.raises(BackupError, match="not a complete backup"):
            verify_backup(disk.path / "backup")
        shutil.rmtree(disk.path / "backup")
        with RiskStore(tmp_path / "db", secret_fingerprint=secret.fingerprint) as store:
            store.backup(tmp_path / "backup")
        with pytest.raises(BackupError, match="No space left on device.*was not touched"):
            restore_backup(tmp_path / "backup", disk.path / "restored", secret_fingerprint=secret.fingerprint)
        assert sorted(path.name for path in disk.path.iterdir()) == [".restored.restore.lock"]
        disk.free()
        restore_backup(tmp_path / "backup", disk.path / "restored", secret_fingerprint=secret.fingerprint)
        with RiskStore(disk.path / "restored", secret_fingerprint=secret.fingerprint) as restored:
            assert restored.version == 12 + VERSION_GAP


def test_partner_filters_of_lost_versions_reset_after_a_restore(tmp_path: Path, secret: NetworkSecret) -> None:
    """A filter at a version the old store reached after the backup (a write lost with it) is reset by the
    restored store, even once the restored store has made as many writes again."""
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        _fill(store)
        store.backup(tmp_path / "backup")
        store.apply([Removal(KEYS[0], "bank-a"), Removal(KEYS[0], "bank-b")])  # lost with the old store
        lost_version = store.version
    restore_backup(tmp_path / "backup", tmp_path / "restored", secret_fingerprint=secret.fingerprint)
    with RiskStore(tmp_path / "restored", secret_fingerprint=secret.fingerprint) as restored:
        for key in KEYS[1:]:
            restored.apply([Upsert(key, Contribution("bank-c", Category.MONEY_MULE, RiskLevel.LOW, NOW, NOW + 99))])
        assert restored.version > lost_version and restored.lookup(KEYS[0])
        export = FilterExport(restored, bits_per_key=16, max_removed=1000, catch_up_grace=0.05)
        assert [delta.reset for delta in export.updates(lost_version)] == [True]
        assert [delta.reset for delta in export.updates(restored.version - 1)] == [False]
