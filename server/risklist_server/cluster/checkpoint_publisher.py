"""A node's share of the cluster's checkpoints: one node at a time backs its store up and publishes it.

Every `interval_s` each node's writer asks for the cluster's `checkpoint` lease (risklist_server.cluster.write_log:
one holder, renewed at each round, taken over 30 s after its holder stops renewing it). The holder, if its store
applied log entries since the latest checkpoint, makes a backup (a RocksDB checkpoint: hard links beside the store,
so the same file system) in `work_dir`, packs it and makes it the cluster's latest (CheckpointBucket). The backup
is consistent: the log position inside it is the last entry whose records it holds, which is where a node
restoring it goes on. A new or wiped node, or one whose position fell out of the log's retention, restores it
(risklist_server.cluster.rejoin).

A round of a large store takes far longer than the lease lives (LEASE_TTL_S after its last renewal): the holder
renews it every LEASE_RENEW_S until the round ends, so no other node takes it over and uploads a second archive at
the same time. Before it publishes, the holder purges the chunks uploads cut off earlier left in the bucket
(CheckpointBucket.purge_orphans).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import structlog

from risklist_server.cluster.checkpoint_archive import pack_backup
from risklist_server.cluster.checkpoint_bucket import CheckpointBucket, CheckpointInfo
from risklist_server.cluster.write_log import LEASE_TTL_S, LogUnavailable
from risklist_server.core.backup_manifest import BackupManifest
from risklist_server.services.poller import Poller
from risklist_server.store.checkpoint import STORE_DIR
from risklist_server.store.stored_position import stored_position

LEASE = "checkpoint"
LEASE_RENEW_S = LEASE_TTL_S / 3
"""How often the holder renews the lease during a round: two renewals may fail before it could lapse."""

log = structlog.get_logger(__name__)


class CheckpointSource(Protocol):
    """The node's store (RiskStore)."""

    @property
    def log_position(self) -> int: ...

    @property
    def list_id(self) -> str: ...

    secret_fingerprint: str

    def backup(self, target: Path) -> BackupManifest: ...


class Leases(Protocol):
    def hold_lease(self, name: str, holder: str) -> bool: ...


class CheckpointPublisher:
    """See the module's description. start() runs rounds on a daemon thread; publish_once() is one round."""

    def __init__(self, store: CheckpointSource, leases: Leases, bucket: CheckpointBucket, *, node_id: str,
                 interval_s: float, work_dir: Path, renew_s: float = LEASE_RENEW_S) -> None:
        self._store = store
        self._renew_s = renew_s
        self._leases = leases
        self._bucket = bucket
        self._node_id = node_id
        self._work_dir = work_dir
        self._poller = Poller(self.publish_once, seconds=interval_s, name="checkpoint-publisher",
                              failure_event="checkpoint_publish_failed", once_per_outage=True, logger=log)

    def start(self) -> CheckpointPublisher:
        self._poller.start()
        return self

    def stop(self) -> None:
        self._poller.stop()

    def publish_once(self) -> CheckpointInfo | None:
        """Publish a checkpoint if this node holds the lease and the latest one is older than its store; what was
        published (None: nothing to do)."""
        if not self._leases.hold_lease(LEASE, self._node_id):
            return None
        latest = self._bucket.latest()
        if latest is not None and latest.log_position >= self._store.log_position:
            return None
        with self._lease_kept():
            purged = self._bucket.purge_orphans()
            if purged:
                log.info("checkpoint_orphans_purged", uploads=purged)
            return self._publish()

    def _publish(self) -> CheckpointInfo:
        started = time.monotonic()
        shutil.rmtree(self._work_dir, ignore_errors=True)  # what a round killed half-way left
        self._work_dir.mkdir(mode=0o700, parents=True)
        try:
            backup = self._work_dir / "backup"
            manifest = self._store.backup(backup)
            covered = stored_position(backup / STORE_DIR)
            archive = self._work_dir / "checkpoint.tar"
            pack_backup(backup, archive)
            info = CheckpointInfo(log_position=covered.log_position, list_version=manifest.changelog_sequence,
                                  secret_fingerprint=self._store.secret_fingerprint, list_id=self._store.list_id,
                                  node_id=self._node_id, created_at=manifest.created_at)
            self._bucket.publish(archive, info)
            log.info("checkpoint_published", log_position=info.log_position, list_version=info.list_version,
                     bytes=archive.stat().st_size, seconds=round(time.monotonic() - started, 3))
            return info
        finally:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    @contextmanager
    def _lease_kept(self) -> Iterator[None]:
        """Renew the lease every renew_s seconds (on a thread of its own) until the block ends."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self._renew_s):
                try:
                    held = self._leases.hold_lease(LEASE, self._node_id)
                except LogUnavailable:
                    continue  # without a quorum no other node can take it either
                if not held:
                    log.warning("checkpoint_lease_lost", node=self._node_id)
                    return

        keeper = threading.Thread(target=renew, name="checkpoint-lease", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join()
