"""Where a store stands, read from outside (RocksDB opened read-only): its list version, cluster log position and
cluster list id. For a cluster node deciding at start whether to restore a checkpoint, and for a checkpoint
saying which log entry it covers."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from risklist_server.store.changelog_trim import read_trimmed_through
from risklist_server.store.list_id import read_cluster_list_id
from risklist_server.store.log_position import read_log_position
from risklist_server.store.rocks import CHANGELOG_CF, META_CF, iter_keys, open_rocks_read_only


@dataclass(frozen=True, slots=True)
class StoredPosition:
    list_version: int
    log_position: int
    """The last cluster log entry applied (0: none)."""
    list_id: str | None
    """The cluster list the store joined (None: none)."""


def stored_position(path: Path) -> StoredPosition:
    """The position of the store at `path` (which may be open elsewhere meanwhile)."""
    with tempfile.TemporaryDirectory(prefix="risklist-position-") as info_log_dir:
        db = open_rocks_read_only(str(path), info_log_dir)
        try:
            meta = db.get_column_family(META_CF)
            changelog = db.get_column_family(CHANGELOG_CF)
            last = next(iter_keys(changelog, backwards=True), None)
            version = max(read_trimmed_through(meta), 0 if last is None else int.from_bytes(last, "big"))
            position = StoredPosition(version, read_log_position(meta), read_cluster_list_id(meta))
            meta.close()
            changelog.close()
        finally:
            db.close()
    return position
