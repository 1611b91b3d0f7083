"""The cluster's latest checkpoint, kept in a JetStream object store beside the write log.

One object, `latest`, holds the archive of a node's backup (risklist_server.cluster.checkpoint_archive); its
description says what the checkpoint covers (CheckpointInfo, JSON): the last log entry applied into it, its list
version, the network's secret fingerprint and the cluster's list id. A publish replaces the object only once all
of the new one is stored (JetStream's object store writes the chunks, then the object's meta), and the download
checks the whole object's SHA-256 before anything is restored from it.

An upload cut off (its node killed, its connection lost for good) leaves its chunks in the bucket's stream with no
object naming them: at a large store's size, a few of those would fill the servers' JetStream storage, which the
write log shares. purge_orphans removes chunks of no object once nothing was added to them for ORPHAN_AGE_S (an
upload in progress adds one every few milliseconds); the checkpoint publisher runs it before each publish.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import ObjectMeta, ObjectStoreConfig
from nats.js.errors import BucketNotFoundError, DigestMismatchError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from risklist_server.cluster.write_log import WriteLog
from risklist_server.core.errors import StoreError

BUCKET = "RISKLIST_CHECKPOINTS"
LATEST = "latest"
FORMAT = "risklist-checkpoint-1"
STREAM = f"OBJ_{BUCKET}"
"""The JetStream stream behind the object store (nats' naming)."""
CHUNKS = f"$O.{BUCKET}.C."
"""Where an object's chunks go: this, then the object's nuid (nats' naming)."""
ORPHAN_AGE_S = 600.0
"""Chunks of no object whose newest is older than this are an upload that was cut off."""
TRANSFER_TIMEOUT_S = 3600.0
"""An archive's upload or download may take this long at most (a 3-billion-entry store is hundreds of GB)."""


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """What a published checkpoint covers."""

    log_position: int
    """The last log entry applied into it: a node restoring it applies the log from the entry after."""
    list_version: int
    secret_fingerprint: str
    list_id: str
    node_id: str
    created_at: int

    def to_description(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, sort_keys=True)

    @staticmethod
    def from_description(text: str | None) -> CheckpointInfo:
        """The info an object's description holds; StoreError if it is not a checkpoint's this node can read."""
        try:
            document = json.loads(text or "")
            if document.pop("format") != FORMAT:
                raise ValueError("format")
            info = CheckpointInfo(**document)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise StoreError(f"the cluster's checkpoint ({BUCKET}/{LATEST}) is not one this node can read (a newer "
                             "node's format?): upgrade this node, or have a node of this version publish one") from None
        return info


class CheckpointBucket:
    """The cluster's checkpoint store over a node's log connection (LogUnavailable without a quorum)."""

    def __init__(self, write_log: WriteLog, *, replicas: int, network: str) -> None:
        self._log = write_log
        self._config = ObjectStoreConfig(bucket=BUCKET, replicas=replicas,
                                         description=f"risklist checkpoints of network {network}")

    def latest(self, *, timeout_s: float = 15.0) -> CheckpointInfo | None:
        """What the latest checkpoint covers; None if none was published yet."""

        async def info(stream: JetStreamContext) -> CheckpointInfo | None:
            bucket = await self._bucket(stream)
            try:
                found = await bucket.get_info(LATEST)
            except ObjectNotFoundError:
                return None
            return CheckpointInfo.from_description(found.description)

        return self._log.with_jetstream(info, timeout_s=timeout_s)

    def publish(self, archive: Path, info: CheckpointInfo) -> None:
        """Make `archive` (covering `info`) the latest checkpoint."""

        async def put(stream: JetStreamContext) -> None:
            bucket = await self._bucket(stream)
            with archive.open("rb") as data:
                await bucket.put(LATEST, data, meta=ObjectMeta(name=LATEST, description=info.to_description()))

        self._log.with_jetstream(put, timeout_s=TRANSFER_TIMEOUT_S)

    def purge_orphans(self, *, now: float | None = None, timeout_s: float = 60.0) -> int:
        """Remove the chunks of every upload that was cut off: chunks no object names, the newest of them older than
        ORPHAN_AGE_S at `now` (Unix seconds; None: now). How many uploads' chunks were removed."""
        moment = time.time() if now is None else now

        async def purge(stream: JetStreamContext) -> int:
            bucket = await self._bucket(stream)
            try:
                kept = (await bucket.get_info(LATEST)).nuid
            except ObjectNotFoundError:
                kept = None
            info = await stream.stream_info(STREAM, subjects_filter=f"{CHUNKS}>")
            purged = 0
            for subject in info.state.subjects or {}:
                if subject.removeprefix(CHUNKS) == kept:
                    continue
                newest = await stream.get_last_msg(STREAM, subject)
                if newest.time is None or moment - newest.time.timestamp() < ORPHAN_AGE_S:
                    continue  # an upload still under way (another node's, which lost the lease)
                await stream.purge_stream(STREAM, subject=subject)
                purged += 1
            return purged

        return self._log.with_jetstream(purge, timeout_s=timeout_s)

    def download(self, into: Path) -> CheckpointInfo:
        """Write the latest checkpoint's archive into the new file `into` (its SHA-256 checked); what it covers.
        StoreError if none was published."""

        async def get(stream: JetStreamContext) -> CheckpointInfo:
            bucket = await self._bucket(stream)
            try:
                with into.open("xb") as data:
                    found = await bucket.get(LATEST, writeinto=data)
            except ObjectNotFoundError:
                raise StoreError(f"the cluster holds no checkpoint ({BUCKET}/{LATEST}) yet") from None
            except DigestMismatchError:
                raise StoreError(f"the cluster's checkpoint ({BUCKET}/{LATEST}) arrived damaged (its SHA-256 differs): "
                                 "start the node again to download it again") from None
            return CheckpointInfo.from_description(found.info.description)

        return self._log.with_jetstream(get, timeout_s=TRANSFER_TIMEOUT_S)

    async def _bucket(self, stream: JetStreamContext) -> ObjectStore:
        try:
            return await stream.object_store(BUCKET)
        except BucketNotFoundError:
            return await stream.create_object_store(BUCKET, config=self._config)
