"""A digest of every record a store holds (RocksDB opened read-only, so its server may go on running)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from risklist_server.store.rocks import OUTCOMES_CF, iter_items, open_rocks_read_only


def records_digest(path: Path) -> tuple[int, str]:
    """(how many records, SHA-256 over every record and verified outcome in key order) of the store at `path`."""
    digest = hashlib.sha256()
    count = 0
    with tempfile.TemporaryDirectory(prefix="risklist-digest-") as info_log_dir:
        db = open_rocks_read_only(str(path), info_log_dir)
        try:
            for key, value in iter_items(db):
                digest.update(len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value)
                count += 1
            outcomes = db.get_column_family(OUTCOMES_CF)
            for key, value in iter_items(outcomes):
                digest.update(b"o" + len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value)
            outcomes.close()
        finally:
            db.close()
    return count, digest.hexdigest()
