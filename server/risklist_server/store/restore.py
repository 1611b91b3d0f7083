"""Restoring a verified backup: copy into a new directory beside the store's place, then rename it there.

The restore never replaces or deletes a store: the store's place must be absent or an empty
directory (the operator moves an old store aside first). The copy goes to `.NAME.restoring` in the
same parent directory, is fsynced and checked against the manifest, gets an empty changelog entry
VERSION_GAP versions on (so partners' filters of later versions reset), and only then is renamed
to NAME in one atomic rename. A restore killed at any point leaves NAME as it was (absent or empty:
risklist-server refuses it, saying there is no store) and a `.NAME.restoring` directory that the
next restore removes.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

import structlog
from rocksdict import WriteOptions

from risklist_server.core.backup_manifest import BackupManifest
from risklist_server.core.errors import BackupError
from risklist_server.store.backup_verify import verify_backup
from risklist_server.store.changelog import encode_changes, sequence_key
from risklist_server.store.checkpoint import STORE_DIR, file_sha256
from risklist_server.store.durable import fsync_path
from risklist_server.store.pause_point import pause_point
from risklist_server.store.rocks import CHANGELOG_CF, open_rocks
from risklist_server.store.store_dir import restore_staging

log = structlog.get_logger("risklist.store")

VERSION_GAP = 1 << 32
"""A restored store's versions go on from the backup's plus this: an empty changelog entry there."""


def _refuse_occupied(db_path: Path) -> None:
    if db_path.is_dir() and not any(db_path.iterdir()):
        return
    if db_path.exists() or db_path.is_symlink():
        raise BackupError(f"{db_path} is not empty (a store is there?); a restore never replaces a store: stop its "
                          f"server, move it aside (mv {db_path} {db_path}.old), then restore again")


def restore_backup(backup: Path, db_path: Path, *, secret_fingerprint: str,
                   new_versions: bool = True) -> BackupManifest:
    """Verify `backup` (made under `secret_fingerprint`), then restore its store at `db_path` atomically. Without
    `new_versions` (a cluster node restoring the cluster's checkpoint, whose versions every node shares) the
    versions go on from the backup's, with no gap."""
    manifest = verify_backup(backup, expected_fingerprint=secret_fingerprint)
    db_path = db_path.absolute()
    _refuse_occupied(db_path)
    parent = db_path.parent
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(parent / f".{db_path.name}.restore.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another restore into {db_path} is running; wait for it to end") from None
        staging = restore_staging(db_path)
        if staging.exists():
            shutil.rmtree(staging)
            log.info("restore_leftover_removed", directory=str(staging))
        try:
            _copy(backup / STORE_DIR, staging, manifest, db_path)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise BackupError(f"copying the backup into {staging} failed: {error.strerror or error}; {db_path} was "
                              "not touched: free space on that disk (the store needs the backup's size), then "
                              "restore again") from None
        if new_versions:
            _start_new_versions(staging, manifest.changelog_sequence, db_path)
        fsync_path(staging)
        pause_point("restore-rename")
        _refuse_occupied(db_path)
        try:
            os.rename(staging, db_path)  # atomic; replaces only an empty directory
        except OSError as error:
            raise BackupError(f"cannot rename {staging} to {db_path}: {error.strerror or error}; {db_path} was not "
                              "touched") from None
        fsync_path(parent)
    log.info("backup_restored", directory=str(db_path), version=manifest.changelog_sequence,
             files=len(manifest.files))
    return manifest


def _copy(source: Path, staging: Path, manifest: BackupManifest, db_path: Path) -> None:
    """Copy every file of the manifest into `staging` (made here), fsynced and checked against its sha256."""
    staging.mkdir(mode=0o700)
    for entry in manifest.files:
        copied = staging / entry.name
        shutil.copyfile(source / entry.name, copied)
        os.chmod(copied, 0o600)
        fsync_path(copied)
        if file_sha256(copied) != entry.sha256:
            raise BackupError(f"the copy of {source / entry.name} in {staging} differs from the backup's "
                              f"manifest (a failing disk?); {db_path} was not touched")
        pause_point("restore-copy")


def _start_new_versions(staging: Path, backed_up: int, db_path: Path) -> None:
    """Put an empty changelog entry at `backed_up` + VERSION_GAP into the restored copy.

    Partners' filters may hold versions after the backup's that the restored store never had (writes
    lost with the old store). Their next GetFilterUpdates finds no entry right after their version (the
    gap), so it is a reset; without the gap, once the restored store reached their version again, they
    would be sent only the changes after it and keep what the lost writes unlisted.
    """
    try:
        db = open_rocks(str(staging), 8 * 1024 * 1024)
    except Exception as error:  # StoreError, or rocksdict's plain Exception
        raise BackupError(f"cannot open the restored copy in {staging}: {error}; {db_path} was not touched") from None
    try:
        changelog = db.get_column_family(CHANGELOG_CF)
        synced = WriteOptions()
        synced.sync = True
        changelog.put(sequence_key(backed_up + VERSION_GAP), encode_changes([], int(time.time())), write_opt=synced)
        changelog.close()
    finally:
        db.close()
