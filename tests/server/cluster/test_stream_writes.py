"""Report and Revoke through the cluster's log on three real nats-servers, applied by two nodes with stores of
their own: every acknowledged write was applied on the answering node, every node reaches the same records
(whatever its own clock says), a refusal is its caller's answer on every node, and a node that cannot apply an
entry stops rather than serve records that differ."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from risklist.v1 import risklist_pb2 as pb
from rocksdict import AccessType, Options, Rdict

from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.cluster.applier import LogApplier
from risklist_server.cluster.log_entry import InvalidLogEntry, LogEntry
from risklist_server.cluster.stream_writes import REFUSALS, PinnedClock, StreamWrites, write_call_applier
from risklist_server.cluster.write_log import LogSettings, WriteLog
from risklist_server.core.errors import InvalidSubjects, WriteUnavailable
from risklist_server.core.partners import Role
from risklist_server.core.settings import Settings
from risklist_server.core.subject import SubjectResolver
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.contribution_calls import contribution_calls
from risklist_server.services.contributions import ContributionService
from risklist_server.store.risk_store import RiskStore
from tests.support.waiting import wait_until
from tools.local_nats import NatsCluster

SETTINGS = LogSettings(max_bytes=64 * 2**20)
DEADLINE_S = 15.0
BANKS = [Caller(f"bank-{letter}", frozenset({Role.CONTRIBUTE})) for letter in "abcd"]


@dataclass
class Node:
    """One cluster node's write side: its store, its services on a pinned clock, its log and applier."""

    store: RiskStore
    log: WriteLog
    applier: LogApplier
    writes: StreamWrites

    def close(self) -> None:
        self.applier.stop()
        self.log.close()
        self.store.close()


def _node(path: Path, urls: list[str], secret: NetworkSecret, own_clock: Callable[[], float]) -> Node:
    store = RiskStore(path, create=True, secret_fingerprint=secret.fingerprint)
    clock = PinnedClock(own_clock)
    service = ContributionService(store, SubjectResolver(Normaliser("CN"), Digester(secret)), Settings(), clock=clock)
    log = WriteLog(urls, SETTINGS).open()
    applier = LogApplier(log, write_call_applier(contribution_calls(service), clock, store), refusals=REFUSALS,
                         applied=store.log_position).start()
    return Node(store, log, applier, StreamWrites(log, applier, clock=own_clock))


@pytest.fixture()
def nodes(cluster: NatsCluster, tmp_path: Path, secret: NetworkSecret) -> Iterator[list[Node]]:
    # Clocks a minute apart: records may depend only on the time the receiving node took the call.
    started = [_node(tmp_path / "a", cluster.urls, secret, lambda: 1_800_000_000.0),
               _node(tmp_path / "b", list(reversed(cluster.urls)), secret, lambda: 1_800_000_060.0)]
    yield started
    for node in started:
        node.close()


def _report(number: int) -> pb.ReportRequest:
    return pb.ReportRequest(reports=[pb.Report(subject=pb.Subject(type=3, value=f"+86 139 {number:04d} {number:04d}"),
                                               category=1 + number % 3, level=2, reference=f"case-{number}")])


def _records_digest(path: Path) -> tuple[int, str]:
    """How many records a (closed) store holds, and a digest of all of them in key order."""
    db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        digest, count = hashlib.sha256(), 0
        for key, value in db.items():
            digest.update(key + value)
            count += 1
        return count, digest.hexdigest()
    finally:
        db.close()


def test_writes_from_both_nodes_are_acknowledged_once_applied_and_every_node_reaches_the_same_records(
        nodes: list[Node], tmp_path: Path) -> None:
    def submit(number: int) -> pb.ReportResponse:
        node = nodes[number % 2]
        response: pb.ReportResponse = node.writes.submit("Report", BANKS[number // 60], f"request-{number}",
                                                         _report(number % 60), pb.ReportResponse,
                                                         timeout=DEADLINE_S)
        # Acknowledged means applied on the answering node: its applier is at or past the entry already.
        assert node.applier.applied >= 1
        return response

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(submit, range(120)))
    assert all(response.request_id == f"request-{number}" for number, response in enumerate(responses))
    assert sum(response.added for response in responses) == 120  # 60 subjects, each from two banks

    revoked = nodes[1].writes.submit("Revoke", BANKS[0], "revoke-1",
                                     pb.RevokeRequest(subjects=[_report(0).reports[0].subject]), pb.RevokeResponse,
                                     timeout=DEADLINE_S)
    assert revoked.removed == 1

    last = nodes[0].log.last_sequence()
    assert all(node.applier.wait_applied(last, DEADLINE_S) for node in nodes)
    for node in nodes:
        node.close()
    digests = {_records_digest(tmp_path / name) for name in ("a", "b")}
    assert len(digests) == 1 and next(iter(digests))[0] == 60


def test_a_refusal_is_the_callers_answer_and_both_nodes_go_on(nodes: list[Node]) -> None:
    bad = pb.ReportRequest(reports=[pb.Report(subject=pb.Subject(type=3, value="not a phone"), category=1, level=2)])
    with pytest.raises(InvalidSubjects):
        nodes[0].writes.submit("Report", BANKS[0], "bad-1", bad, pb.ReportResponse, timeout=DEADLINE_S)
    assert nodes[0].store.log_position == 1  # decided once: a restart does not decide it again
    good = nodes[1].writes.submit("Report", BANKS[1], "good-1", _report(7), pb.ReportResponse, timeout=DEADLINE_S)
    assert good.added == 1
    last = nodes[0].log.last_sequence()
    assert all(node.applier.wait_applied(last, DEADLINE_S) and node.applier.failure is None for node in nodes)


def test_a_node_that_cannot_apply_an_entry_stops_applying(cluster: NatsCluster) -> None:
    """A local failure (here: the disk) is not a refusal: the applier stops at that entry, the caller is told the
    write is in the log but not applied here (UNAVAILABLE), nothing after it is applied on that node, and a later
    write sent to it is refused at once without reaching the log."""
    applied: list[int] = []
    failing = threading.Event()

    def apply(sequence: int, entry: LogEntry) -> object:
        if failing.is_set():
            raise OSError(28, "No space left on device")
        applied.append(sequence)
        return pb.ReportResponse(request_id=entry.request_id)

    with WriteLog(cluster.urls, SETTINGS).open() as log:
        applier = LogApplier(log, apply, refusals=REFUSALS).start()
        writes = StreamWrites(log, applier)
        try:
            writes.submit("Report", BANKS[0], "one", _report(1), pb.ReportResponse, timeout=DEADLINE_S)
            failing.set()
            with pytest.raises(WriteUnavailable, match="in the write log .* could not apply it"):
                writes.submit("Report", BANKS[0], "two", _report(2), pb.ReportResponse, timeout=DEADLINE_S)
            assert isinstance(applier.failure, OSError)
            before = log.last_sequence()
            with pytest.raises(WriteUnavailable, match="stopped applying the write log.*nothing was written"):
                writes.submit("Report", BANKS[0], "refused", _report(3), pb.ReportResponse, timeout=DEADLINE_S)
            assert log.last_sequence() == before
            failing.clear()
            log.append(LogEntry("Report", "bank-a", frozenset(), "three", 0, b""), timeout_s=DEADLINE_S)
            assert not applier.wait_applied(applied[0] + 2, 1.0)  # stopped: "three" is never applied here
            assert len(applied) == 1
        finally:
            applier.stop()


def test_a_restarted_node_resumes_after_the_last_entry_it_applied(cluster: NatsCluster, tmp_path: Path,
                                                                   secret: NetworkSecret) -> None:
    """Stopped and reopened, a node starts from its store's position: nothing applied twice (an entry at or before
    the position would stop its applier), nothing missed, the same records as a node that never stopped."""
    steady = _node(tmp_path / "steady", cluster.urls, secret, lambda: 1_800_000_000.0)
    restarted = _node(tmp_path / "restarted", cluster.urls, secret, lambda: 1_800_000_000.0)
    try:
        for number in range(10):
            steady.writes.submit("Report", BANKS[0], f"before-{number}", _report(number), pb.ReportResponse,
                                 timeout=DEADLINE_S)
        last = steady.log.last_sequence()
        assert restarted.applier.wait_applied(last, DEADLINE_S)
        restarted.close()
        for number in range(10, 20):
            steady.writes.submit("Report", BANKS[1], f"while-down-{number}", _report(number), pb.ReportResponse,
                                 timeout=DEADLINE_S)
        restarted = _node(tmp_path / "restarted", cluster.urls, secret, lambda: 1_800_000_000.0)
        assert restarted.store.log_position == last
        response = restarted.writes.submit("Report", BANKS[2], "after", _report(3), pb.ReportResponse,
                                           timeout=DEADLINE_S)
        assert response.added == 1
        last = steady.log.last_sequence()
        assert all(node.applier.wait_applied(last, DEADLINE_S) for node in (steady, restarted))
        assert steady.applier.failure is None and restarted.applier.failure is None
    finally:
        steady.close()
        restarted.close()
    assert _records_digest(tmp_path / "steady") == _records_digest(tmp_path / "restarted")


def test_an_entry_this_node_cannot_read_stops_its_applier(cluster: NatsCluster) -> None:
    """A newer node's entry (another layout) is not skipped: the applier stops with the reason, applying nothing
    after it."""
    async def publish_foreign() -> None:
        connection = await nats.connect(servers=cluster.urls)
        try:
            await connection.jetstream().publish(SETTINGS.subject, b"\x09 from a newer node", timeout=10)
        finally:
            await connection.close()

    applied: list[int] = []
    with WriteLog(cluster.urls, SETTINGS).open() as log:
        log.append(LogEntry("Report", "bank-a", frozenset(), "first", 0, b""), timeout_s=DEADLINE_S)
        asyncio.run(publish_foreign())
        log.append(LogEntry("Report", "bank-a", frozenset(), "after", 0, b""), timeout_s=DEADLINE_S)
        applier = LogApplier(log, lambda sequence, _entry: applied.append(sequence), refusals=REFUSALS).start()
        try:
            wait_until(lambda: applier.failure is not None, timeout=DEADLINE_S)
            assert isinstance(applier.failure, InvalidLogEntry) and "version 9" in str(applier.failure)
            assert applied == [1] and applier.applied == 1
        finally:
            applier.stop()
