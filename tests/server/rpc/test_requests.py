"""Calls whose request never reaches a servicer (none sent, too large, cut off first) are audited all the same."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb

from risklist_server.rpc.app import create_server
from risklist_server.rpc.message_limits import partner_max_receive_bytes
from risklist_server.rpc.request_waits import RequestWaits
from risklist_server.rpc.stream_limits import StreamLimits
from risklist_server.services.lookup import LookupService
from tests.support.waiting import wait_until


@dataclass(frozen=True)
class Record:
    partner: str
    method: str
    status: str
    keys: bytes
    received: bool


class RecordingSink:
    """An audit sink keeping what each record says about its request."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def append(self, time_ns: int, partner: str, method: str, request_id: str, status: str,
               keys: bytes, hits: Sequence[int], *, source: str = "", unrecorded: int = 0, at_least: bool = False,
               received: bool = True) -> None:
        assert len(request_id) == 24
        self.records.append(Record(partner, method, status, keys, received))


@dataclass
class Served:
    channel: grpc.Channel
    audit: RecordingSink
    streams: StreamLimits
    waits: RequestWaits


WAIT_LIMIT_SECONDS = 3.0


@pytest.fixture()
def served(lookup: LookupService) -> Iterator[Served]:
    audit = RecordingSink()
    streams = StreamLimits(per_member=4, total=8, idle_seconds=60)
    waits = RequestWaits(lambda _context: "dev", per_member=1, total=1, limit_seconds=WAIT_LIMIT_SECONDS)
    server, port, _ = create_server("127.0.0.1:0", lookup, audit=audit, streams=streams, request_waits=waits)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", -1)])
    yield Served(channel, audit, streams, waits)
    channel.close()
    server.stop(None).wait()


def _wait_for_record(served: Served) -> Record:
    wait_until(lambda: served.audit.records, timeout=10, message="the call was never audited")
    [record] = served.audit.records
    return record


@pytest.mark.parametrize("method", ["Check", "BatchCheck", "GetEntry", "GetNetworkInfo"])
def test_a_unary_call_without_a_message_is_invalid_argument_and_audited(served: Served, method: str) -> None:
    """A call to a unary method that closes its request stream empty is INVALID_ARGUMENT saying so (grpc said
    UNIMPLEMENTED, and nothing was audited), and one record of it, the request not received."""
    with pytest.raises(grpc.RpcError) as caught:
        served.channel.stream_unary(f"/risklist.v1.RiskList/{method}")(iter([]), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"no request message; {method} takes exactly one" in str(caught.value.details())
    assert served.audit.records == [Record("dev", method, "INVALID_ARGUMENT", b"", False)]


def test_a_message_over_the_size_limit_is_audited_unread(served: Served, lookup: LookupService) -> None:
    """A request grpc refuses before reading it (RESOURCE_EXHAUSTED to the caller) is one record without
    subjects: grpc tells the server only that the call ended, so it is recorded as CANCELLED, not received."""
    too_large = b"\x0a\x00" * (partner_max_receive_bytes(lookup.max_batch) // 2 + 1)
    with pytest.raises(grpc.RpcError) as caught:
        served.channel.unary_unary("/risklist.v1.RiskList/BatchCheck")(too_large, timeout=10)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _wait_for_record(served) == Record("dev", "BatchCheck", "CANCELLED", b"", False)


def test_a_deadline_passing_before_the_request_arrives_is_audited_as_such(served: Served) -> None:
    """A caller whose deadline passes while its request is still on the way gets DEADLINE_EXCEEDED; so says the
    record."""
    never = threading.Event()

    def withheld() -> Iterator[bytes]:
        never.wait(10)
        yield b""

    with pytest.raises(grpc.RpcError) as caught:
        served.channel.stream_unary("/risklist.v1.RiskList/Check")(withheld(), timeout=0.5)
    never.set()
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert _wait_for_record(served) == Record("dev", "Check", "DEADLINE_EXCEEDED", b"", False)


def test_calls_ended_for_withholding_their_requests_are_audited_with_the_status_their_callers_got(
    served: Served,
) -> None:
    """Two Checks withholding their requests from a member whose share is one: the newer ends RESOURCE_EXHAUSTED,
    the older CANCELLED after the wait limit; each is one record, the request not received, with that status."""
    release = threading.Event()

    def withheld() -> Iterator[bytes]:
        release.wait(30)
        yield b""

    check = served.channel.stream_unary("/risklist.v1.RiskList/Check")
    older = check.future(withheld(), timeout=30)
    wait_until(lambda: served.waits.waiting_count() == 1, timeout=10, message="the first call never reached the server")
    newer = check.future(withheld(), timeout=30)
    try:
        codes = [call.exception(timeout=WAIT_LIMIT_SECONDS + 10).code() for call in (older, newer)]
    finally:
        release.set()
    assert codes == [grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED]
    wait_until(lambda: len(served.audit.records) == 2, timeout=10, message="the calls were never audited")
    assert sorted(served.audit.records, key=lambda record: record.status) == [
        Record("dev", "Check", "CANCELLED", b"", False), Record("dev", "Check", "RESOURCE_EXHAUSTED", b"", False)]


def test_a_call_cancelled_before_its_request_arrives_is_audited_cancelled(served: Served) -> None:
    """A GetFilter whose caller cancels while the server waits for its request is recorded CANCELLED."""
    release = threading.Event()

    def withheld() -> Iterator[bytes]:
        release.wait(10)
        yield b""

    call = served.channel.stream_stream("/risklist.v1.RiskList/GetFilter")(withheld(), timeout=30)
    wait_until(lambda: served.streams.open_count("dev") == 1, timeout=10, message="the call never reached the server")
    call.cancel()
    release.set()
    assert _wait_for_record(served) == Record("dev", "GetFilter", "CANCELLED", b"", False)


def test_a_stream_cut_off_after_an_answer_is_audited_once_more(served: Served) -> None:
    """A StreamCheck cancelled by its caller after one answer: the answer is audited OK, then one record of the
    cut-off (whether the server waited for the next message or was still sending), CANCELLED, not received."""
    release = threading.Event()
    one = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_CARD, digest=bytes(16))])

    def messages() -> Iterator[bytes]:
        yield one.SerializeToString()
        release.wait(10)

    call = served.channel.stream_stream("/risklist.v1.RiskList/StreamCheck")(messages(), timeout=30)
    next(call)
    call.cancel()
    release.set()
    wait_until(lambda: len(served.audit.records) == 2, timeout=10, message="the cut-off was never audited")
    assert [(r.status, r.received, len(r.keys)) for r in served.audit.records] == [("OK", True, 17),
                                                                                   ("CANCELLED", False, 0)]
