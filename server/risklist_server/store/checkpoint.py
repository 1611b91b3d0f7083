"""Writing a backup: a RocksDB checkpoint of the store, its front, then a manifest and a completion marker.

A backup directory holds `store/` (the checkpoint: hard links to the store's SST files where the
file system allows, copies otherwise; the Bloom front file covering the checkpoint's changelog
sequence), `MANIFEST_FILE` (every file of `store/` with its size and sha256) and, last,
`COMPLETE_FILE`, naming the manifest's sha256. Every file and directory is fsynced before the
marker is written atomically, so a backup killed at any point has no valid marker.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import structlog
from rocksdict import Checkpoint, Rdict

from risklist_server.core.backup_manifest import BackedUpFile, BackupManifest, completion_marker
from risklist_server.core.errors import BackupError, StoreError
from risklist_server.store.durable import fsync_path, write_atomically
from risklist_server.store.front import BloomFront
from risklist_server.store.front_file import FrontOwner, save_front
from risklist_server.store.pause_point import pause_point
from risklist_server.store.reads import FRONT_FILE

STORE_DIR = "store"
MANIFEST_FILE = "risklist-backup.json"
COMPLETE_FILE = "COMPLETE"
_CHUNK = 1 << 20

log = structlog.get_logger("risklist.store")


def prepare_backup_dir(target: Path) -> None:
    """Create `target` (0700, parents too), or accept an empty directory; refuse anything else."""
    if target.exists():
        if not target.is_dir():
            raise BackupError(f"the backup directory {target} is a file; name a new or empty directory")
        if any(target.iterdir()):
            raise BackupError(f"the backup directory {target} is not empty (an older or interrupted backup?); "
                              "name a new or empty directory: a backup never overwrites one")
        target.chmod(0o700)
        return
    try:
        target.mkdir(mode=0o700, parents=True)
    except OSError as error:
        raise BackupError(f"cannot create the backup directory {target}: {error.strerror or error}") from None


def take_checkpoint(db: Rdict, target: Path) -> None:
    """A RocksDB checkpoint of `db` in `target`/store (the caller holds the writer's lock: no write is half done)."""
    try:
        Checkpoint(db).create_checkpoint(str(target / STORE_DIR))
    except Exception as error:  # rocksdict raises plain Exception with RocksDB's message
        raise BackupError(f"cannot write a checkpoint in {target / STORE_DIR}: {error}; free space on that disk "
                          "(or name a backup directory on another one), then back up again into an empty directory"
                          ) from None


def seal_backup(target: Path, front: BloomFront, sequence: int, owner: FrontOwner) -> BackupManifest:
    """Save the front, checksum and fsync every file, then write the manifest and, last, the completion marker.

    The front file is tagged with `owner`: the source store's secret and id. The id is in the `meta`
    column family the checkpoint carries (risklist_server.store.store_id), so the restored store
    accepts it; RocksDB's IDENTITY, which a checkpoint lacks until first opened, plays no part.
    A failure (a full disk) raises BackupError: the directory has no completion marker, so verify and
    restore refuse it.
    """
    try:
        return _seal(target, front, sequence, owner)
    except (OSError, StoreError) as error:
        detail = error.strerror or str(error) if isinstance(error, OSError) else str(error)
        raise BackupError(f"writing the backup in {target} failed: {detail}; it is incomplete (verify and restore "
                          f"refuse it): delete {target}, fix the cause (a full disk?) and back up again") from None


def _seal(target: Path, front: BloomFront, sequence: int, owner: FrontOwner) -> BackupManifest:
    store = target / STORE_DIR
    save_front(store / FRONT_FILE, front, sequence, owner)
    pause_point("backup-checksums")
    files = tuple(_checksum_and_sync(path) for path in sorted(store.iterdir()))
    fsync_path(store)
    manifest = BackupManifest(int(time.time()), owner.secret_fingerprint, sequence, files)
    data = manifest.to_bytes()
    write_atomically(target / MANIFEST_FILE, data)
    pause_point("backup-marker")
    write_atomically(target / COMPLETE_FILE, completion_marker(data))
    fsync_path(target)
    log.info("backup_written", directory=str(target), files=len(files), version=sequence,
             bytes=sum(f.size for f in files))
    return manifest


def file_sha256(path: Path) -> str:
    """The sha256 (hex) of the file at `path`, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _checksum_and_sync(path: Path) -> BackedUpFile:
    if not path.is_file():
        raise BackupError(f"{path} is not a plain file; a store checkpoint holds only files")
    checksum = file_sha256(path)
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
        size = os.fstat(descriptor).st_size
    finally:
        os.close(descriptor)
    return BackedUpFile(path.name, size, checksum)
