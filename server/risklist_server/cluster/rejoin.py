"""A node's store at start: as it is, or the cluster's latest checkpoint in its place.

A node applies the log from the entry after its store's position. That works while the log still holds that
entry. A new node (no store, or an empty one) or a wiped one restores the cluster's latest checkpoint
(risklist_server.cluster.checkpoint_publisher) and applies the log from the entry after the one it covers; with no
checkpoint yet it starts empty and applies the whole log, which works only while the log holds its first entry. A
node whose position fell out of the log's retention restores the checkpoint too: its old store is moved aside
(`DB.replaced-TIME`), never deleted. Anything else that cannot be made whole is a StoreError: the node does not
start, rather than serve a list with entries missing.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Protocol

import structlog

from risklist_server.cluster.checkpoint_archive import unpack_backup
from risklist_server.cluster.checkpoint_bucket import CheckpointInfo
from risklist_server.core.errors import BackupError, StoreError
from risklist_server.store.restore import restore_backup
from risklist_server.store.store_dir import beside_store
from risklist_server.store.stored_position import StoredPosition

log = structlog.get_logger(__name__)


def is_new(store: StoredPosition | None) -> bool:
    """A store with nothing in it: none at all, or one no write ever reached."""
    return store is None or (store.list_version == 0 and store.log_position == 0)


def restore_reason(store: StoredPosition | None, first_sequence: int, checkpoint: CheckpointInfo | None,
                   *, network: str) -> str | None:
    """Why the node must restore `checkpoint` before it starts (None: it starts from its store as it is); the
    log's oldest entry is `first_sequence`. StoreError when neither can make the node whole."""
    if checkpoint is not None and checkpoint.secret_fingerprint != network:
        raise StoreError(f"the cluster's checkpoint was made under another network secret "
                         f"({checkpoint.secret_fingerprint}, this node's is {network}): check --secret-file")
    if is_new(store):
        if checkpoint is not None:
            return "new store"
        if first_sequence > 1:
            raise StoreError(f"this node's store is new, but the log no longer holds its first entries (its oldest "
                             f"is {first_sequence}) and the cluster has no checkpoint: start a node that holds the "
                             "list with a checkpoint interval (--checkpoint-interval), wait for its first "
                             "checkpoint_published, then start this one again")
        return None
    assert store is not None
    if store.log_position + 1 >= first_sequence:
        return None
    if checkpoint is None or checkpoint.log_position + 1 < first_sequence:
        raise StoreError(f"this node's store applied the log up to entry {store.log_position}, but the log now starts "
                         f"at {first_sequence} and the cluster has no checkpoint reaching it: the entries in between "
                         "are gone. Start a node that holds them with --checkpoint-interval, wait for its "
                         "checkpoint_published, then start this one again")
    return "behind the log's retention"


class CheckpointSource(Protocol):
    """Where the latest checkpoint comes from (CheckpointBucket)."""

    def download(self, into: Path) -> CheckpointInfo: ...


def restore_checkpoint(bucket: CheckpointSource, db: Path, store: StoredPosition | None, *, network: str) -> \
        CheckpointInfo:
    """Download the latest checkpoint and restore it at `db`; a store there with anything in it is moved aside
    first (an empty one is removed). Downloaded files live beside `db` until the restore ends."""
    started = time.monotonic()
    db = db.absolute()
    work = beside_store(db, "checkpoint-download")
    shutil.rmtree(work, ignore_errors=True)  # what a start killed half-way left
    work.mkdir(mode=0o700, parents=True)
    try:
        archive = work / "checkpoint.tar"
        info = bucket.download(archive)
        unpack_backup(archive, work / "backup")
        archive.unlink()
        aside = _clear_place(db, store)
        try:
            restore_backup(work / "backup", db, secret_fingerprint=network, new_versions=False)
        except BackupError as error:  # a full disk, say: the node's former store is not lost, and says where
            where = "" if aside is None else f"; this node's former store is at {aside}"
            raise StoreError(f"restoring the cluster's checkpoint into {db} failed: {error}{where}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("checkpoint_restored", log_position=info.log_position, list_version=info.list_version,
             made_by=info.node_id, seconds=round(time.monotonic() - started, 3))
    return info


def _clear_place(db: Path, store: StoredPosition | None) -> Path | None:
    """Make `db`'s place empty for the restore: a new store is removed, any other moved aside (where to, returned)."""
    if not db.exists():
        return None
    if is_new(store):
        shutil.rmtree(db)
        return None
    aside = db.with_name(f"{db.name}.replaced-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}")
    os.rename(db, aside)
    log.warning("store_moved_aside", directory=str(aside), log_position=store.log_position if store else 0)
    return aside
