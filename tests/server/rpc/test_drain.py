"""A stopping worker audits every call it started: finished in the grace, cut off by grpc, or still running after."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.message import Message
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc
from structlog.testing import capture_logs

from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.app import create_server
from risklist_server.rpc.drain import Drain
from risklist_server.rpc.write_calls import ResponseT
from risklist_server.services.lookup import LookupService
from tests.support.waiting import wait_until

REPORT = pb.ReportRequest(reports=[pb.Report(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="+8613800138000"),
                                             category=pb.CATEGORY_OTHER, level=pb.RISK_LEVEL_HIGH)])


class RecordingSink:
    """An audit sink keeping (method, status, number of keys) of each record."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, int]] = []

    def append(self, time_ns: int, partner: str, method: str, request_id: str, status: str,
               keys: bytes, hits: Sequence[int], *, source: str = "", unrecorded: int = 0, at_least: bool = False,
               received: bool = True) -> None:
        self.records.append((method, status, len(keys) // 17))


class HeldWrites:
    """A write gateway (the writer link's place) that holds every call until released: a slow writer."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def submit(self, method: str, caller: Caller, request_id: str, request: Message, response_type: type[ResponseT],
               *, timeout: float | None = None) -> ResponseT:
        self.entered.set()
        assert self.release.wait(30)
        return response_type(request_id=request_id)


@dataclass
class Served:
    server: grpc.Server
    stub: pb_grpc.RiskListStub
    writes: HeldWrites
    audit: RecordingSink
    drain: Drain


@pytest.fixture()
def served(lookup: LookupService) -> Iterator[Served]:
    writes, audit, drain = HeldWrites(), RecordingSink(), Drain()
    server, port, _ = create_server("127.0.0.1:0", lookup, writes=writes, audit=audit, drain=drain)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Served(server, pb_grpc.RiskListStub(channel), writes, audit, drain)
    writes.release.set()
    server.stop(None).wait()


def _report_in_flight(served: Served, pool: futures.ThreadPoolExecutor) -> futures.Future[pb.ReportResponse]:
    answer = pool.submit(served.stub.Report, REPORT, timeout=30)
    assert served.writes.entered.wait(10), "the Report never reached the writer"
    return answer


def _stop(served: Served, grace: float) -> None:
    served.drain.stopping(grace)
    served.server.stop(grace).wait()


def test_a_call_finishing_within_the_grace_is_audited_ok(served: Served) -> None:
    """A Report in flight at the stop that the writer answers within the grace is answered, and audited OK."""
    with futures.ThreadPoolExecutor(2) as pool:
        answer = _report_in_flight(served, pool)
        stopped = pool.submit(_stop, served, 30)
        served.writes.release.set()
        assert len(answer.result(timeout=10).request_id) == 24
        stopped.result(timeout=10)
    assert served.drain.finish(timeout=0) == 0
    assert served.audit.records == [("Report", "OK", 1)]


def test_a_call_ending_after_the_grace_is_audited_with_what_its_caller_got(served: Served) -> None:
    """A Report whose writer answers only after grpc cut the call off at the end of the grace (its caller got
    UNAVAILABLE) is audited UNAVAILABLE, not OK, and the drain waits for it."""
    with futures.ThreadPoolExecutor(2) as pool:
        answer = _report_in_flight(served, pool)
        _stop(served, 0.2)
        with pytest.raises(grpc.RpcError) as caught:
            answer.result(timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        finished = pool.submit(served.drain.finish, 30)
        served.writes.release.set()
        assert finished.result(timeout=30) == 0
    assert served.audit.records == [("Report", "UNAVAILABLE", 1)]


def test_a_call_still_running_when_the_drain_ends_is_audited_as_cut_off_once(served: Served) -> None:
    """A Report whose handler still runs when the worker gives up waiting is audited then, UNAVAILABLE with its
    subject, so the audit can close after it; when the handler returns at last, nothing more is appended."""
    with capture_logs() as logs, futures.ThreadPoolExecutor(2) as pool:
        answer = _report_in_flight(served, pool)
        _stop(served, 0.2)
        with pytest.raises(grpc.RpcError):
            answer.result(timeout=10)
        assert served.drain.finish(timeout=0.1) == 1
        assert served.audit.records == [("Report", "UNAVAILABLE", 1)]
        served.writes.release.set()
        wait_until(lambda: any(line["event"] == "rpc" for line in logs), timeout=10,
                   message="the held handler never returned")
    assert served.audit.records == [("Report", "UNAVAILABLE", 1)]
    [unfinished] = [line for line in logs if line["event"] == "calls_unfinished_at_stop"]
    assert unfinished["calls"] == 1
