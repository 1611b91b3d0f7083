"""A real server with two reader workers trims its changelog: every worker resets a filter past the window,
gives the exact delta inside it, the low-water mark survives a restart, and a kill -9 loses no listed key."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import storage_key
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

WRITES = 1_100
WINDOW = 1_000


def ingest_one_key_per_batch(server: ServerProcess, secret: NetworkSecret, digests: list[bytes]) -> int:
    """One Admin.Ingest call, one batch (so one changelog entry) per digest; return the list version."""
    requests = [pb.IngestRequest(start=pb.IngestStart(source="bank-a", mode=pb.LOAD_MODE_DELTA,
                                                      secret_fingerprint=secret.fingerprint))]
    requests += [pb.IngestRequest(batch=pb.IngestBatch(mutations=[pb.Mutation(
        action=pb.MUTATION_ACTION_ADD, type=pb.ENTITY_TYPE_CARD, digest=digest, category=pb.CATEGORY_TELECOM_FRAUD,
        level=pb.RISK_LEVEL_HIGH, reported_at=Timestamp(seconds=1_760_000_000),
        expires_at=Timestamp(seconds=4_000_000_000))])) for digest in digests]
    with grpc.insecure_channel(server.admin_address) as channel:
        response: pb.IngestResponse = pb_grpc.AdminStub(channel).Ingest(iter(requests), timeout=60)
    return int(response.list_version)


def updates(server: ServerProcess, since: int) -> list[pb.FilterUpdate]:
    """GetFilterUpdates on a new connection (SO_REUSEPORT hands each to either worker)."""
    with grpc.insecure_channel(server.address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        stub = pb_grpc.RiskListStub(channel)
        return list(stub.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=since), timeout=10))


def test_every_worker_resets_past_the_window_and_gives_the_delta_inside(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """After 1,100 writes with a window of 1,000 entries: version 1 gets reset from any worker, the last 10 writes
    come as exactly their keys, and after a restart version 1 still gets reset."""
    config = tmp_path / "settings.toml"
    config.write_text(f"changelog_max_entries = {WINDOW}\nchangelog_trim_interval_seconds = 1\n")
    digests = [os.urandom(16) for _ in range(WRITES)]
    server = start_server(tmp_path / "db", secret_file, "--workers", "2", "--config", str(config))
    try:
        version = ingest_one_key_per_batch(server, secret, digests)
        assert version == WRITES
        # (a trim may also have run during the ingest, up to where it was then)
        server.wait_for_log(lambda line: line.get("event") == "changelog_trimmed"
                            and line.get("trimmed_through") == WRITES - WINDOW, timeout=30)
        wait_until(lambda: all(updates(server, 1)[-1].reset for _ in range(8)), timeout=30)
        expected = sorted(storage_key(EntityType.CARD, digest) for digest in digests[-10:])
        for _ in range(8):
            answer = updates(server, version - 10)
            assert [update.reset for update in answer] == [False] and answer[-1].version == version
            added = b"".join(update.added_keys for update in answer)
            assert sorted(added[offset : offset + 17] for offset in range(0, len(added), 17)) == expected
    finally:
        assert server.terminate() == 0
    server = start_server(tmp_path / "db", secret_file, "--workers", "2", "--config", str(config))
    try:
        assert all(updates(server, 1)[-1].reset for _ in range(8))
        assert not updates(server, WRITES - WINDOW)[-1].reset
    finally:
        assert server.terminate() == 0


def listed_count(server: ServerProcess, digests: list[bytes]) -> int:
    """How many of `digests` (cards) a BatchCheck finds listed, 1,000 per call."""
    found = 0
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.RiskListStub(channel)
        for start in range(0, len(digests), 1_000):
            part = digests[start : start + 1_000]
            subjects = [pb.Subject(type=pb.ENTITY_TYPE_CARD, digest=digest) for digest in part]
            found += len(stub.BatchCheck(pb.BatchCheckRequest(subjects=subjects), timeout=10).hits)
    return found


def test_a_kill_9_after_a_trim_loses_no_listed_key(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """kill -9 after a trim and more writes: the restarted server catches its front up from the changelog (the trim
    saved the front before passing it) and every worker finds every key, none answered "not listed"."""
    config = tmp_path / "settings.toml"
    config.write_text(f"changelog_max_entries = {WINDOW}\nchangelog_trim_interval_seconds = 1\n")
    digests = [os.urandom(16) for _ in range(WRITES + 50)]
    server = start_server(tmp_path / "db", secret_file, "--workers", "2", "--config", str(config))
    try:
        ingest_one_key_per_batch(server, secret, digests[:WRITES])
        server.wait_for_log(lambda line: line.get("event") == "changelog_trimmed"
                            and line.get("trimmed_through") == WRITES - WINDOW, timeout=30)
        assert ingest_one_key_per_batch(server, secret, digests[WRITES:]) == WRITES + 50
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
    server = start_server(tmp_path / "db", secret_file, "--workers", "2", "--config", str(config))
    try:
        loaded = server.wait_for_log(lambda line: line.get("event") in ("front_loaded", "front_rebuild"))
        assert loaded["event"] == "front_loaded" and loaded["version"] == WRITES + 50
        for _ in range(4):  # new connections: both workers
            assert listed_count(server, digests) == len(digests)
        assert updates(server, 1)[-1].reset
    finally:
        assert server.terminate() == 0
