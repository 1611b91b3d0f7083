"""An online backup of the writer's store into a directory on the server's machine (Admin.Backup)."""

from __future__ import annotations

from pathlib import Path

from risklist_server.core.backup_manifest import BackupManifest
from risklist_server.core.errors import BackupError
from risklist_server.store.risk_store import RiskStore


def backup_store(store: RiskStore, directory: str) -> BackupManifest:
    """Back `store` up into `directory`, an absolute path on the server's machine (new or empty).

    Lookups go on throughout (reader workers are RocksDB secondaries); writes wait only while the
    checkpoint is taken and the front copied.
    """
    if not directory:
        raise BackupError("directory: name a directory on the server's machine to back up into")
    target = Path(directory)
    if not target.is_absolute():
        raise BackupError(f"directory: {directory!r} is not an absolute path; name the backup directory as an "
                          "absolute path on the server's machine (the server's working directory is not yours)")
    return store.backup(target)
