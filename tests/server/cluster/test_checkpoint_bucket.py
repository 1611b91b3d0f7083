"""The cluster's checkpoint bucket on a real nats-server: an upload cut off (its node killed mid-publish) leaves
chunks no object names; the next publish's purge removes them once they are old, never the latest checkpoint's
nor an upload still under way."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from pathlib import Path

import nats

from risklist_server.cluster.checkpoint_bucket import (
    CHUNKS,
    ORPHAN_AGE_S,
    STREAM,
    CheckpointBucket,
    CheckpointInfo,
)
from risklist_server.cluster.write_log import LogSettings, WriteLog
from tools.local_nats import NatsCluster

INFO = CheckpointInfo(log_position=7, list_version=7, secret_fingerprint="f" * 16, list_id="list-1", node_id="n1",
                      created_at=1_800_000_000)



def _leave_chunks(urls: list[str], nuid: str, count: int) -> None:
    """What a node killed half-way through an upload leaves: chunks on a new nuid, and no object meta."""

    async def publish() -> None:
        connection = await nats.connect(servers=urls)
        try:
            stream = connection.jetstream()
            for _ in range(count):
                await stream.publish(f"{CHUNKS}{nuid}", secrets.token_bytes(1024))
        finally:
            await connection.close()

    asyncio.run(publish())


def _chunk_subjects(urls: list[str]) -> set[str]:
    async def subjects() -> set[str]:
        connection = await nats.connect(servers=urls)
        try:
            info = await connection.jetstream().stream_info(STREAM, subjects_filter=f"{CHUNKS}>")
            return set(info.state.subjects or {})
        finally:
            await connection.close()

    return asyncio.run(subjects())


def test_chunks_of_a_cut_off_upload_are_purged_once_old_and_the_latest_checkpoint_stays(
    one_nats_server: NatsCluster, tmp_path: Path,
) -> None:
    archive = tmp_path / "checkpoint.tar"
    archive.write_bytes(secrets.token_bytes(300_000))
    with WriteLog(one_nats_server.urls, LogSettings(replicas=1, max_bytes=64 * 2**20)).open() as log:
        bucket = CheckpointBucket(log, replicas=1, network="test")
        bucket.publish(archive, INFO)
        published = _chunk_subjects(one_nats_server.urls)
        _leave_chunks(one_nats_server.urls, "CUTOFFUPLOAD1", 5)
        _leave_chunks(one_nats_server.urls, "CUTOFFUPLOAD2", 2)
        assert len(_chunk_subjects(one_nats_server.urls)) == len(published) + 2

        assert bucket.purge_orphans() == 0  # just written: as an upload still under way would be
        later = time.time() + ORPHAN_AGE_S + 1
        assert bucket.purge_orphans(now=later) == 2
        assert _chunk_subjects(one_nats_server.urls) == published  # the latest checkpoint's chunks, however old
        assert bucket.purge_orphans(now=later) == 0

        downloaded = tmp_path / "downloaded.tar"
        assert bucket.download(downloaded) == INFO
        assert hashlib.sha256(downloaded.read_bytes()).digest() == hashlib.sha256(archive.read_bytes()).digest()


def test_an_empty_bucket_has_nothing_to_purge(one_nats_server: NatsCluster) -> None:
    with WriteLog(one_nats_server.urls, LogSettings(replicas=1, max_bytes=64 * 2**20)).open() as log:
        bucket = CheckpointBucket(log, replicas=1, network="test")
        assert bucket.purge_orphans(now=time.time() + ORPHAN_AGE_S + 1) == 0
