"""Per-RPC log lines and audit records: what operators read, the status a failure maps to, never a raw identifier."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc
import pytest
from structlog.testing import capture_logs

from risklist_server.core.errors import BatchTooLarge, InvalidSubject, StoreError
from risklist_server.rpc.drain import Drain
from risklist_server.rpc.rpc_log import ADMIN_SERVICE, RpcLog

RAW_PHONE = "+8613800138000"
PHONE_KEY = bytes([3]) + bytes(range(16))
CARD_KEY = bytes([2]) + bytes(range(100, 116))
OPERATOR_FIELDS = {"event", "log_level", "method", "partner", "request_id", "count", "hits", "latency_ms", "status"}


class RecordingSink:
    """An audit sink that keeps what it was given, in order (and, apart, what a record says of what it omits)."""

    def __init__(self) -> None:
        self.appended: list[tuple[str, str, str, str, bytes, list[int]]] = []
        self.omitted: list[tuple[int, bool, bool]] = []
        """(unrecorded, at_least, received) of each record."""

    def append(self, time_ns: int, partner: str, method: str, request_id: str, status: str,
               keys: bytes, hits: Sequence[int], *, source: str = "", unrecorded: int = 0, at_least: bool = False,
               received: bool = True) -> None:
        assert time_ns > 0
        self.appended.append((partner, method, request_id, status, keys, list(hits)))
        self.omitted.append((unrecorded, at_least, received))


@pytest.fixture()
def sink() -> RecordingSink:
    return RecordingSink()


def _rpc_lines(logs: list[dict[str, object]]) -> Iterator[dict[str, object]]:
    return (line for line in logs if line["event"] == "rpc")


def test_a_served_call_logs_its_method_counts_latency_and_status(sink: RecordingSink) -> None:
    """A successful RPC writes one line with method, subjects, hits, latency and OK, and nothing more."""
    with capture_logs() as logs, RpcLog("BatchCheck", audit=sink) as rpc:
        rpc.count, rpc.hits = 3, 1
    [line] = _rpc_lines(logs)
    assert set(line) == OPERATOR_FIELDS and line["log_level"] == "info"
    assert (line["method"], line["count"], line["hits"], line["status"]) == ("BatchCheck", 3, 1, "OK")
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0


def test_without_log_success_only_failures_are_logged(sink: RecordingSink) -> None:
    """With log_success off a served call writes no line, and a refused one still does, as a warning if serious."""
    with capture_logs() as logs:
        with RpcLog("Check", audit=sink, log_success=False):
            pass
        with RpcLog("Check", audit=sink, log_success=False) as rpc:
            rpc.fail(InvalidSubject("subject.value", "bad"))
        with RpcLog("Check", audit=sink, log_success=False) as rpc:
            rpc.fail(StoreError("disk gone"))
    assert [(line["status"], line["log_level"]) for line in _rpc_lines(logs)] == [
        ("INVALID_ARGUMENT", "info"), ("UNAVAILABLE", "warning")]


def test_a_refusal_never_logs_the_raw_identifier(sink: RecordingSink) -> None:
    """An error whose message quotes the subject logs only its status: the raw phone appears nowhere."""
    with capture_logs() as logs, RpcLog("Check", audit=sink) as rpc:
        rpc.audit("bank-a", "r" * 24, PHONE_KEY, [])
        rpc.fail(InvalidSubject("subject.value", f"{RAW_PHONE} is not a phone number"))
    [line] = _rpc_lines(logs)
    assert line["status"] == "INVALID_ARGUMENT" and RAW_PHONE not in repr(logs)
    assert sink.appended == [("bank-a", "Check", "r" * 24, "INVALID_ARGUMENT", PHONE_KEY, [])]
    assert RAW_PHONE.encode() not in sink.appended[0][4]


def test_an_unexpected_error_is_internal_with_its_type_logged(sink: RecordingSink) -> None:
    """A bug maps to INTERNAL, and an extra error line names its type for the operator."""
    with capture_logs() as logs, RpcLog("Check", audit=sink) as rpc:
        rpc.fail(KeyError("oops"))
    [internal] = [line for line in logs if line["event"] == "rpc_internal_error"]
    assert internal["error_type"] == "KeyError" and internal["method"] == "Check"
    assert [line["status"] for line in _rpc_lines(logs)] == ["INTERNAL"]


def test_an_escaping_exception_is_unknown_and_a_closed_stream_cancelled(sink: RecordingSink) -> None:
    """An exception the servicer did not report ends UNKNOWN; a stream closed by the caller ends CANCELLED."""
    with capture_logs() as logs:
        with pytest.raises(RuntimeError), RpcLog("Check", audit=sink) as rpc:
            rpc.audit("bank-a", "u" * 24, PHONE_KEY, [])
            raise RuntimeError("boom")
        with pytest.raises(GeneratorExit), RpcLog("StreamCheck", audit=sink):
            raise GeneratorExit
    assert [line["status"] for line in _rpc_lines(logs)] == ["UNKNOWN", "CANCELLED"]
    assert sink.appended == [("bank-a", "Check", "u" * 24, "UNKNOWN", PHONE_KEY, [])]


def test_each_stream_answer_is_audited_before_the_next_and_the_last_with_the_final_status(
    sink: RecordingSink,
) -> None:
    """Answered stream messages are appended OK in order; the entry open when the RPC fails gets its status."""
    with capture_logs(), RpcLog("StreamCheck", audit=sink) as rpc:
        first = rpc.audit("bank-a", "1" * 24)
        first.keys, first.hits = [PHONE_KEY], [0]  # filled as the servicer learns them
        rpc.answered()
        rpc.audit("bank-a", "2" * 24, [CARD_KEY, PHONE_KEY], [1])
        rpc.audit("bank-a", "3" * 24, CARD_KEY, [])  # opening the next appends the previous as answered
        rpc.fail(StoreError("disk gone"))
    assert sink.appended == [
        ("bank-a", "StreamCheck", "1" * 24, "OK", PHONE_KEY, [0]),
        ("bank-a", "StreamCheck", "2" * 24, "OK", CARD_KEY + PHONE_KEY, [1]),
        ("bank-a", "StreamCheck", "3" * 24, "UNAVAILABLE", CARD_KEY, []),
    ]


def test_a_call_without_an_audit_entry_appends_nothing(sink: RecordingSink) -> None:
    """Only entries the servicer opened are audited: an admin call that opened none leaves no record."""
    with capture_logs() as logs, RpcLog("Ingest", ADMIN_SERVICE, audit=sink) as rpc:
        rpc.count = 5
    assert sink.appended == []
    assert [line["count"] for line in _rpc_lines(logs)] == [5]


def test_a_batch_refused_for_size_is_audited_with_its_count_and_no_keys(sink: RecordingSink) -> None:
    """A refusal for size records how many subjects the batch carried (and whether that is a lower bound),
    never keys: none of them was read."""
    with capture_logs(), RpcLog("BatchCheck", audit=sink) as rpc:
        rpc.audit("bank-a", "b" * 24)
        rpc.fail(BatchTooLarge(1_000_000, 10_000))
    with capture_logs(), RpcLog("BatchCheck", audit=sink) as rpc:
        rpc.audit("bank-a", "c" * 24, PHONE_KEY)
        rpc.fail(BatchTooLarge(10_001, 10_000, at_least=True))
    assert [(status, keys) for _, _, _, status, keys, _ in sink.appended] == [
        ("INVALID_ARGUMENT", b""), ("INVALID_ARGUMENT", b"")]
    assert sink.omitted == [(1_000_000, False, True), (10_001, True, True)]


class _EndedCall:
    """The two things RpcLog asks of a grpc context whose call has ended under the server."""

    def __init__(self, remaining: float) -> None:
        self.remaining = remaining

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return self.remaining


@pytest.mark.parametrize(("remaining", "stopped", "status"), [
    (5.0, False, "CANCELLED"), (0.0, False, "DEADLINE_EXCEEDED"), (5.0, True, "UNAVAILABLE")])
def test_an_answer_its_caller_no_longer_waited_for_is_audited_with_what_the_caller_got(
    sink: RecordingSink, remaining: float, stopped: bool, status: str,
) -> None:
    """A call answered after it ended under the server is recorded as its caller saw it: cancelled, past its
    deadline, or cut off by the server's stop once the grace ran out; not OK."""
    drain = Drain()
    if stopped:
        drain.stopping(0)
    context: grpc.ServicerContext = _EndedCall(remaining)  # type: ignore[assignment]
    with capture_logs(), RpcLog("Check", audit=sink, context=context, drain=drain) as rpc:
        rpc.audit("bank-a", "d" * 24, PHONE_KEY, [0])
    assert [record[3] for record in sink.appended] == [status]
    assert drain.open_count() == 0
