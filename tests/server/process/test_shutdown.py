"""SIGTERM drains the readers before the writer, so writes in flight finish or fail cleanly and none is lost."""

from __future__ import annotations

import queue
import signal
import threading
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from tests.support.audit_cli import audit_jsonl
from tests.support.running_server import start_server
from tests.support.waiting import wait_until

ACKNOWLEDGED_BEFORE_STOP = 20
MAX_REPORTS = 400


def _subject(number: int) -> pb.Subject:
    return pb.Subject(type=pb.ENTITY_TYPE_IP, value=f"10.20.{number // 256}.{number % 256}")


def test_sigterm_stops_every_reader_before_the_writer(tmp_path: Path, secret_file: Path) -> None:
    """The writer is asked to stop only once every reader has stopped (readers forward writes to it)."""
    running = start_server(tmp_path / "db", secret_file, "--workers", "2")
    assert running.terminate() == 0
    events = [(line.get("event"), line.get("worker")) for line in running.log_lines]
    writer_asked = events.index(("worker_stop_requested", "writer"))
    for reader in ("reader-1", "reader-2"):
        assert events.index(("worker_stopped", reader)) < writer_asked, events


def test_reports_in_flight_at_sigterm_are_acknowledged_durably_or_refused_cleanly(
    tmp_path: Path, secret_file: Path
) -> None:
    """Reports sent through readers while the server stops either answer OK, are audited and are listed
    after a restart, or fail with UNAVAILABLE/CANCELLED; none is acknowledged and lost."""
    db = tmp_path / "db"
    running = start_server(db, secret_file, "--workers", "2", "--grace", "5")
    acknowledged: list[int] = []
    request_ids: list[str] = []
    failures: list[grpc.StatusCode] = []

    def report_until_refused() -> None:
        with grpc.insecure_channel(running.address) as channel:
            stub = pb_grpc.RiskListStub(channel)
            for number in range(MAX_REPORTS):
                report = pb.Report(subject=_subject(number), category=pb.CATEGORY_OTHER, level=pb.RISK_LEVEL_HIGH)
                try:
                    answer = stub.Report(pb.ReportRequest(reports=[report]), timeout=10)
                except grpc.RpcError as error:
                    failures.append(error.code())
                    return
                request_ids.append(answer.request_id)
                acknowledged.append(number)

    sender = threading.Thread(target=report_until_refused)
    sender.start()
    wait_until(lambda: len(acknowledged) >= ACKNOWLEDGED_BEFORE_STOP, timeout=30,
               message="reports were not acknowledged before the stop")
    running.process.send_signal(signal.SIGTERM)
    sender.join(timeout=60)
    assert not sender.is_alive()
    assert running.terminate() == 0
    assert set(failures) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}, failures
    audited = {str(record["request_id"]): record["status"]
               for record in audit_jsonl(tmp_path / "db-audit", "--partner", "dev") if record["method"] == "Report"}
    assert all(audited.get(request_id) == "OK" for request_id in request_ids), audited

    restarted = start_server(db, secret_file, "--workers", "1")
    try:
        with grpc.insecure_channel(restarted.address) as channel:
            request = pb.BatchCheckRequest(subjects=[_subject(number) for number in acknowledged])
            answer = pb_grpc.RiskListStub(channel).BatchCheck(request, timeout=30)
    finally:
        assert restarted.terminate() == 0
    assert sorted(hit.index for hit in answer.hits if hit.verdict.listed) == list(range(len(acknowledged)))


def test_streams_in_flight_at_sigterm_are_audited_with_the_status_their_callers_got(
    tmp_path: Path, secret_file: Path
) -> None:
    """After SIGTERM, a message sent on an open StreamCheck within --grace is answered and audited OK; a stream still
    waiting when the grace runs out is cut off (UNAVAILABLE) and audited so, the audit closed after it."""
    running = start_server(tmp_path / "db", secret_file, "--grace", "1")
    message = pb.BatchCheckRequest(subjects=[_subject(1)])
    drained: queue.Queue[pb.BatchCheckRequest | None] = queue.Queue()
    waiting: queue.Queue[pb.BatchCheckRequest | None] = queue.Queue()
    with grpc.insecure_channel(running.address) as channel:
        stub = pb_grpc.RiskListStub(channel)
        finished = stub.StreamCheck(iter(drained.get, None), timeout=30)
        cut_off = stub.StreamCheck(iter(waiting.get, None), timeout=30)
        for requests, answers in ((drained, finished), (waiting, cut_off)):
            requests.put(message)
            next(answers)
        running.process.send_signal(signal.SIGTERM)
        running.wait_for_log(lambda line: line.get("event") == "worker_stop_requested")
        drained.put(message)
        last = next(finished).request_id
        drained.put(None)
        assert list(finished) == []
        with pytest.raises(grpc.RpcError) as caught:
            next(cut_off)
        waiting.put(None)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert running.terminate() == 0
    records = audit_jsonl(tmp_path / "db-audit", "--partner", "dev")
    assert [(r["method"], r["status"], r["received"]) for r in records] == [
        ("StreamCheck", "OK", True), ("StreamCheck", "OK", True), ("StreamCheck", "OK", True),
        ("StreamCheck", "UNAVAILABLE", False)]
    assert records[2]["request_id"] == last
