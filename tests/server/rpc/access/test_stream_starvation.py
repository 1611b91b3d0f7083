"""One member's idle StreamChecks cannot take the threads another member's Check needs (issue 11, item 2)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from tests.support.admin_ingest import PHONE
from tests.support.mtls import HOG_AND_OTHER, DevNetwork, dev_network
from tests.support.running_server import ServerProcess, start_server

PARTNERS = HOG_AND_OTHER
THREADS = 2
"""The worker's RPC threads (--threads): small, so a handful of streams is the issue's 16 idle streams on 8 threads."""
HOG_STREAMS = THREADS + 4
"""More streams than the worker has threads, and more than the default per-member cap (max_streams_per_member 4)."""
DEADLINE = 2.0
"""A Check on an idle server answers in milliseconds: 2 s is waiting behind someone, not slowness."""
CHECK = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE))
BATCH = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)])


class _IdleStream:
    """A StreamCheck that sends one message and then stays open without another; its first outcome is recorded."""

    def __init__(self, stub: pb_grpc.RiskListStub, outcomes: queue.Queue[grpc.StatusCode | None]) -> None:
        self._requests: queue.Queue[pb.BatchCheckRequest | None] = queue.Queue()
        self._requests.put(BATCH)
        self.call = stub.StreamCheck(iter(self._requests.get, None), timeout=60)
        threading.Thread(target=self._first, args=(outcomes,), daemon=True).start()

    def _first(self, outcomes: queue.Queue[grpc.StatusCode | None]) -> None:
        """Put None once the first message is answered, or the status code the stream ended with."""
        try:
            next(self.call)
        except grpc.RpcError as error:
            outcomes.put(error.code())
        else:
            outcomes.put(None)

    def close(self) -> None:
        self._requests.put(None)
        self.call.cancel()


@pytest.fixture()
def network(tmp_path: Path, secret_file: Path) -> Iterator[tuple[DevNetwork, ServerProcess]]:
    dev = dev_network(tmp_path, PARTNERS)
    server = start_server(tmp_path / "db", secret_file, "--threads", str(THREADS), tls=dev.server_tls)
    yield dev, server
    assert server.terminate() == 0


def test_a_members_idle_streams_never_make_another_members_check_time_out(
    network: tuple[DevNetwork, ServerProcess],
) -> None:
    """With one member holding more idle StreamChecks than the worker has threads, another member's Check and
    BatchCheck still answer within a short deadline, and the streams over the member's cap are refused with
    RESOURCE_EXHAUSTED rather than left waiting."""
    dev, server = network
    outcomes: queue.Queue[grpc.StatusCode | None] = queue.Queue()
    hog = dev.channel(server.address, "hog")
    streams = [_IdleStream(pb_grpc.RiskListStub(hog), outcomes) for _ in range(HOG_STREAMS)]
    try:
        # The server holds the streams: as many as it has threads answered their first message.
        seen = [outcomes.get(timeout=30) for _ in range(THREADS)]
        with dev.channel(server.address, "other") as other:
            stub = pb_grpc.RiskListStub(other)
            for _ in range(3):
                assert not stub.Check(CHECK, timeout=DEADLINE).verdict.listed
                stub.BatchCheck(BATCH, timeout=DEADLINE)
        seen += [outcomes.get(timeout=30) for _ in range(HOG_STREAMS - THREADS)]
        refused = [code for code in seen if code is not None]
        assert refused and set(refused) == {grpc.StatusCode.RESOURCE_EXHAUSTED}, seen
    finally:
        for stream in streams:
            stream.close()
        hog.close()
