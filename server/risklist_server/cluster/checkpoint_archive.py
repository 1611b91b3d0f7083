"""A backup directory as one file for the cluster's object store, and back: an uncompressed tar archive.

The store's SST files are compressed already. Unpacking accepts only plain files and directories inside the
target (tarfile's "data" filter): an archive naming ../ or a link is refused, whoever published it.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from risklist_server.core.errors import StoreError


def pack_backup(backup: Path, archive: Path) -> None:
    """Write every file of the backup directory `backup` into the new archive `archive`."""
    with tarfile.open(archive, "x") as packed:
        for path in sorted(backup.rglob("*")):
            packed.add(path, arcname=str(path.relative_to(backup)), recursive=False)


def unpack_backup(archive: Path, into: Path) -> None:
    """Unpack `archive` into the new or empty directory `into`; StoreError if it is not a backup's archive."""
    into.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:") as packed:
            packed.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise StoreError(f"the cluster's checkpoint archive cannot be unpacked into {into}: {error}") from None
