"""The store id: a random id in the store's meta column family that names this store's front file.

The published front file's header carries a tag of it (risklist_server.store.front_file), so a
file copied from another store is refused. It lives in `meta`, not in RocksDB's IDENTITY file,
because a checkpoint (a backup) carries `meta` but gets no IDENTITY until it is first opened (and
then a new one): the front a backup saves next to its checkpoint is tagged with the id the
restored store keeps. The writer makes it on the first open of a store that has none, from the
IDENTITY file when there is one (so a front file published before the id existed stays valid);
read replicas only read it.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import structlog
from rocksdict import Rdict, WriteOptions

from risklist_server.store.front_file import FrontOwner
from risklist_server.store.rocks import META_CF, get_one, open_rocks_read_only

STORE_ID_KEY = b"store_id"
"""Meta key: the store id, ASCII (docs/operations.md, "The store")."""

log = structlog.get_logger("risklist.store")


def read_store_id(meta: Rdict) -> str:
    """The stored id; "" while the store has none (a front file then matches no store: refused)."""
    stored = get_one(meta, STORE_ID_KEY)
    return "" if stored is None else stored.decode("ascii", errors="replace")


def ensure_store_id(meta: Rdict, path: Path) -> str:
    """The stored id; made (the store's IDENTITY, else a random one) and synced first if there is none."""
    stored = read_store_id(meta)
    if stored:
        return stored
    try:
        made = (path / "IDENTITY").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        made = ""
    made = made or uuid.uuid4().hex
    synced = WriteOptions()
    synced.sync = True
    meta.put(STORE_ID_KEY, made.encode("ascii"), write_opt=synced)
    log.info("store_id_created")
    return made


def front_owner_of_store(path: Path, secret_fingerprint: str) -> FrontOwner:
    """The owner of the store at `path`'s front file, read from its meta with RocksDB opened read-only (the
    store may be open elsewhere meanwhile): for tools and tests that check a front file from outside."""
    with tempfile.TemporaryDirectory(prefix="risklist-store-id-") as info_log_dir:
        db = open_rocks_read_only(str(path), info_log_dir)
        try:
            meta = db.get_column_family(META_CF)
            store_id = read_store_id(meta)
            meta.close()
        finally:
            db.close()
    return FrontOwner(secret_fingerprint, store_id)
