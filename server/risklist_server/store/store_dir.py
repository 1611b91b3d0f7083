"""What makes a directory a complete risklist store, checked before anything opens it; new ones are private."""

from __future__ import annotations

import os
from pathlib import Path

from risklist_server.core.errors import StoreError

REQUIRED_FILES = ("CURRENT", "MANIFEST-*", "OPTIONS-*")
"""RocksDB's own markers: without any one of them the directory is not a store RocksDB can open as it was."""

BUILD_HINT = ("build a store with `risklist-load FEED --source BANK --db {path}` or "
              "`risklist-admin init-store --db {path}`, or restore it from a backup (docs/operations.md)")


def check_store_dir(path: str | Path) -> None:
    """Raise StoreError, naming `path` and what to do, unless it holds every file of a RocksDB store."""
    directory = Path(path)
    hint = BUILD_HINT.format(path=directory)
    if not directory.exists():
        raise StoreError(f"there is no store at {directory}; the server never creates one: {hint}")
    if not directory.is_dir():
        raise StoreError(f"the store path {directory} is not a directory; {hint}")
    missing = [pattern for pattern in REQUIRED_FILES if not any(directory.glob(pattern))]
    if missing:
        raise StoreError(f"{directory} is not a complete risklist store (no {', '.join(missing)}); the server "
                         f"never creates or repairs a store: {hint}")


def beside_store(path: str | Path, purpose: str) -> Path:
    """The hidden directory `.NAME.PURPOSE` beside the store at `path`: on its file system (hard links, atomic
    renames), outside it (RocksDB never sees it)."""
    directory = Path(path).absolute()
    return directory.parent / f".{directory.name}.{purpose}"


def restore_staging(path: str | Path) -> Path:
    """Where a restore into `path` copies the backup before renaming it there: `.NAME.restoring` beside it."""
    return beside_store(path, "restoring")


def make_store_dir(path: str | Path) -> None:
    """Create the store directory (and missing parents) readable by its owner only (0700).

    Refused (StoreError) where a restore was cut short: a new empty store in its place would be taken
    for the restored one, and every partner would be told the list is empty.
    """
    staging = restore_staging(path)
    if staging.exists() and not (Path(path) / "CURRENT").exists():
        raise StoreError(
            f"a restore into {path} was interrupted ({staging} is its unfinished copy), so no new store is "
            f"created there: run the restore again (risklist-admin restore --from BACKUP --db {path}), or delete "
            f"{staging} if a new store is what you want"
        )
    os.makedirs(path, mode=0o700, exist_ok=True)
