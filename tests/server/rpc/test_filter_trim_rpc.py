"""GetFilterUpdates over real grpc once the writer's trim has run: reset past the window, the exact delta inside it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc
from structlog.testing import capture_logs

from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.mutation import Removal, Upsert
from risklist_server.core.subject import SubjectResolver
from risklist_server.rpc.app import create_server
from risklist_server.services.changelog_trim import ChangelogTrimmer
from risklist_server.services.lookup import LookupService
from risklist_server.store.changelog_trim import ChangelogWindow
from risklist_server.store.filter_export import FilterExport
from risklist_server.store.risk_store import RiskStore
from tests.server.rpc.test_filter_rpc import CONTRIBUTION

T0 = 1_800_000_000
HOUR = 3600


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def clocked_store(tmp_path: Path, secret: NetworkSecret, clock: Clock) -> Iterator[RiskStore]:
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint, clock=clock) as store:
        yield store


@pytest.fixture()
def stub(clocked_store: RiskStore, secret: NetworkSecret) -> Iterator[pb_grpc.RiskListStub]:
    lookup = LookupService(clocked_store, SubjectResolver(Normaliser("CN"), Digester(secret)), max_batch=100)
    export = FilterExport(clocked_store, bits_per_key=16, max_removed=100, snapshot_max_age=0, catch_up_grace=0.05)
    server, port, _ = create_server("127.0.0.1:0", lookup, filters=export)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.RiskListStub(channel)
    server.stop(None).wait()


def keys(count: int) -> list[bytes]:
    return [b"\x01" + os.urandom(16) for _ in range(count)]


def split(packed: bytes) -> list[bytes]:
    return sorted(packed[offset : offset + 17] for offset in range(0, len(packed), 17))


def updates(stub: pb_grpc.RiskListStub, since: int) -> list[pb.FilterUpdate]:
    return list(stub.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=since), timeout=10))


def test_a_client_past_the_window_gets_a_reset_then_deltas_again(
    stub: pb_grpc.RiskListStub, clocked_store: RiskStore, clock: Clock
) -> None:
    """A filter last updated before the trimmed entries (Friday's, on Tuesday) gets reset; a fresh one gets deltas."""
    trimmer = ChangelogTrimmer(clocked_store, ChangelogWindow(max_entries=1_000, max_age=72 * HOUR), interval=60)
    clocked_store.apply([Upsert(key, CONTRIBUTION) for key in keys(3)])
    friday = clocked_store.version
    clock.now += HOUR
    clocked_store.apply([Upsert(key, CONTRIBUTION) for key in keys(3)])
    clock.now += 80 * HOUR
    later = keys(2)
    clocked_store.apply([Upsert(key, CONTRIBUTION) for key in later])
    with capture_logs() as logs:
        assert trimmer.trim_once().trimmed_through == friday + 1
    # the published front covered less than the new mark: published first (the readers map it), then trimmed
    assert [entry["event"] for entry in logs] == ["front_published", "changelog_trimmed"]
    answer = updates(stub, friday)
    assert [(update.reset, update.version) for update in answer] == [(True, clocked_store.version)]
    assert [update.reset for update in updates(stub, friday + 1)] == [False]  # at the mark: nothing is missing
    assert split(updates(stub, friday + 1)[-1].added_keys) == sorted(later)
    header = next(iter(stub.GetFilter(pb.GetFilterRequest(), timeout=10))).header
    assert header.version == clocked_store.version
    assert [update.reset for update in updates(stub, header.version)] == [False]


def test_a_client_inside_the_window_gets_the_exact_delta(
    stub: pb_grpc.RiskListStub, clocked_store: RiskStore, clock: Clock
) -> None:
    """Entries after the client's version are all kept: the delta lists exactly the keys listed and unlisted since."""
    trimmer = ChangelogTrimmer(clocked_store, ChangelogWindow(max_entries=1_000, max_age=72 * HOUR), interval=60)
    old = keys(4)
    clocked_store.apply([Upsert(key, CONTRIBUTION) for key in old])
    clock.now += 10 * HOUR
    clocked_store.apply([Upsert(key, CONTRIBUTION) for key in keys(1)])
    since = clocked_store.version
    clock.now += 10 * HOUR
    added = keys(5)
    clocked_store.apply([Upsert(key, CONTRIBUTION) for key in added[:3]])
    clocked_store.apply([Removal(key, "bank-a") for key in old[:2]])
    clock.now += 60 * HOUR  # the first write is now 80 h old; the client's is 70 h old
    clocked_store.apply([Upsert(key, CONTRIBUTION) for key in added[3:]])
    assert trimmer.trim_once().trimmed_through == since - 1
    answer = updates(stub, since)
    assert [update.reset for update in answer] == [False]
    assert answer[-1].version == clocked_store.version
    assert split(b"".join(update.added_keys for update in answer)) == sorted(added)
    assert split(b"".join(update.removed_keys for update in answer)) == sorted(old[:2])
    assert sum(update.removed_count for update in answer) == 2
