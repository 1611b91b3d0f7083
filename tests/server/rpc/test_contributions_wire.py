"""Report, Revoke and GetEntry over real grpc, on one worker and on two (writes forwarded to the writer)."""

from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret
from risklist_server.store.risk_store import RiskStore
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

CONNECTIONS = 16
"""Separate connections, spread by the kernel over the readers (all on one: p = 2^-15)."""
VISIBLE_WITHIN = 2.0
"""Seconds: far above the catch-up interval (10 ms), so only a worker that does not catch up fails here. How
fast it is (15 ms p50 on this machine) is a benchmark's figure (benchmarks/visibility.py), not a timed test's:
a loaded machine made a 100 ms bound fail without anything wrong."""
PHONE_SUBJECT = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)


def _config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "risklist.toml"
    path.write_text("expiry_sweep_interval_seconds = 0.1\n" + text, encoding="utf-8")
    return path


def _start(tmp_path: Path, secret_file: Path, workers: int, config: str = "") -> ServerProcess:
    return start_server(tmp_path / "db", secret_file, "--workers", str(workers),
                        "--config", str(_config(tmp_path, config)))


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def served(request: pytest.FixtureRequest, tmp_path: Path, secret_file: Path) -> Iterator[ServerProcess]:
    running = _start(tmp_path, secret_file, request.param)
    try:
        yield running
    finally:
        running.terminate()


@pytest.fixture()
def channels(served: ServerProcess) -> Iterator[list[grpc.Channel]]:
    # A local subchannel pool per channel: each opens its own connection (and may reach another worker).
    opened = [grpc.insecure_channel(served.address, options=[("grpc.use_local_subchannel_pool", 1)])
              for _ in range(CONNECTIONS)]
    yield opened
    for channel in opened:
        channel.close()


def _stub(channel: grpc.Channel) -> pb_grpc.RiskListStub:
    return pb_grpc.RiskListStub(channel)


def _listed(channel: grpc.Channel, subject: pb.Subject = PHONE_SUBJECT) -> bool:
    response: pb.CheckResponse = _stub(channel).Check(pb.CheckRequest(subject=subject), timeout=10)
    return bool(response.verdict.listed)


def _report(channel: grpc.Channel, *reports: pb.Report) -> pb.ReportResponse:
    response: pb.ReportResponse = _stub(channel).Report(pb.ReportRequest(reports=reports), timeout=10)
    return response


def _phone_report(reference: str = "CASE-1", expires_at: int | None = None) -> pb.Report:
    report = pb.Report(subject=PHONE_SUBJECT, category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH,
                       reference=reference)
    if expires_at is not None:
        report.expires_at.CopyFrom(Timestamp(seconds=expires_at))
    return report


def _seconds_until_all(channels: list[grpc.Channel], condition: Callable[[grpc.Channel], bool],
                       started: float, timeout: float = 10) -> float:
    """Seconds from `started` until `condition` held on every channel (each polled until it holds)."""
    for channel in channels:
        wait_until(functools.partial(condition, channel), timeout=started + timeout - time.monotonic(), interval=0,
                   message="not visible on every connection")
    return time.monotonic() - started


def _violations(error: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    return {violation.field: violation.description for violation in detail.field_violations}


def test_report_is_visible_on_every_worker(
    served: ServerProcess, channels: list[grpc.Channel]
) -> None:
    """An acknowledged Report is a hit on every connection (every worker) soon after, not at some later time."""
    assert not any(_listed(channel) for channel in channels)
    response = _report(channels[0], _phone_report())
    acknowledged = time.monotonic()
    assert (response.added, response.unchanged) == (1, 0)
    assert response.list_version >= 1 and len(response.request_id) == 24
    took = _seconds_until_all(channels, _listed, acknowledged)
    assert took <= VISIBLE_WITHIN, f"visible everywhere only after {took * 1000:.1f} ms"
    again = _report(channels[1], _phone_report())
    assert (again.added, again.unchanged) == (0, 1)


def test_revoke_withdraws_the_callers_contribution(served: ServerProcess, channels: list[grpc.Channel]) -> None:
    """Revoke removes the caller's report on every worker; revoking again counts not_listed."""
    _report(channels[0], _phone_report())
    _seconds_until_all(channels, _listed, time.monotonic())
    revoked: pb.RevokeResponse = _stub(channels[0]).Revoke(pb.RevokeRequest(subjects=[PHONE_SUBJECT]), timeout=10)
    acknowledged = time.monotonic()
    assert (revoked.removed, revoked.not_listed) == (1, 0) and revoked.request_id
    took = _seconds_until_all(channels, lambda channel: not _listed(channel), acknowledged)
    assert took <= VISIBLE_WITHIN, f"revoke visible everywhere only after {took * 1000:.1f} ms"
    again: pb.RevokeResponse = _stub(channels[1]).Revoke(pb.RevokeRequest(subjects=[PHONE_SUBJECT]), timeout=10)
    assert (again.removed, again.not_listed) == (0, 1)


def test_invalid_reports_are_rejected_field_by_field(served: ServerProcess, channels: list[grpc.Channel]) -> None:
    """Every bad field comes back as a BadRequest violation naming it, and nothing is applied."""
    bad = [
        pb.Report(subject=PHONE_SUBJECT, level=pb.RISK_LEVEL_HIGH),  # no category
        pb.Report(subject=PHONE_SUBJECT, category=pb.CATEGORY_OTHER, level=pb.RISK_LEVEL_LOW, reference="x" * 65),
        _phone_report(expires_at=int(time.time()) - 5),
        pb.Report(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="not a phone"),
                  category=pb.CATEGORY_OTHER),  # bad value, no level
    ]
    with pytest.raises(grpc.RpcError) as caught:
        _report(channels[0], *bad)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    fields = _violations(caught.value)
    assert set(fields) == {"reports[0].category", "reports[1].reference", "reports[2].expires_at",
                           "reports[3].subject.value", "reports[3].level"}
    assert "at most 64" in fields["reports[1].reference"]
    assert "future" in fields["reports[2].expires_at"]
    with pytest.raises(grpc.RpcError) as empty:
        _stub(channels[0]).Revoke(pb.RevokeRequest(), timeout=10)
    assert _violations(empty.value) == {"subjects": "give at least one subject"}
    assert not any(_listed(channel) for channel in channels)


def _revoke(channel: grpc.Channel, *subjects: pb.Subject) -> pb.RevokeResponse:
    response: pb.RevokeResponse = _stub(channel).Revoke(pb.RevokeRequest(subjects=subjects), timeout=10)
    return response


def _answer(response: pb.RevokeResponse) -> tuple[int, int, int]:
    """What a Revoke answered, but its request id: (removed, not_listed, list_version)."""
    return response.removed, response.not_listed, response.list_version


def test_revoking_what_only_another_partner_lists_answers_as_if_nobody_did(
    served: ServerProcess, channels: list[grpc.Channel], secret: NetworkSecret
) -> None:
    """A Revoke of a subject only another partner lists answers OK, not_listed, exactly as for an unlisted one;
    the listing stays and the list version does not move."""
    listed_at = ingest_phone(served.admin_address, secret)  # bank-a's contribution
    _seconds_until_all(channels, _listed, time.monotonic())
    others = _revoke(channels[0], PHONE_SUBJECT)
    nobody = _revoke(channels[1], pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="+8613900139000"))
    assert _answer(others) == _answer(nobody) == (0, 1, listed_at)
    assert others.request_id and others.request_id != nobody.request_id
    entry: pb.GetEntryResponse = _stub(channels[2]).GetEntry(pb.GetEntryRequest(subject=PHONE_SUBJECT), timeout=10)
    assert len(entry.contributions) == 1 and not entry.contributions[0].own
    assert all(_listed(channel) for channel in channels)


def test_a_retried_revoke_answers_ok_and_changes_nothing(
    served: ServerProcess, channels: list[grpc.Channel], secret: NetworkSecret
) -> None:
    """Sending a Revoke that succeeded again (another partner still lists the subject) answers OK with
    removed 0 and not_listed 1 at the same list version, whichever worker takes it."""
    ingest_phone(served.admin_address, secret)  # bank-a's contribution
    _report(channels[0], _phone_report())
    first = _revoke(channels[0], PHONE_SUBJECT)
    assert (first.removed, first.not_listed) == (1, 0)
    for channel in channels[:4]:
        again = _revoke(channel, PHONE_SUBJECT)
        assert _answer(again) == (0, 1, first.list_version)
    entry: pb.GetEntryResponse = _stub(channels[1]).GetEntry(pb.GetEntryRequest(subject=PHONE_SUBJECT), timeout=10)
    assert [c.own for c in entry.contributions] == [False]


@pytest.mark.parametrize("workers", [1, 2])
def test_acknowledged_report_survives_sigkill(tmp_path: Path, secret_file: Path, workers: int) -> None:
    """SIGKILL of the store's writer (and the supervisor) right after an acknowledged Report loses nothing."""
    running = _start(tmp_path, secret_file, workers)
    pids = running.serving["pids"]
    assert isinstance(pids, dict)
    try:
        with grpc.insecure_channel(running.address) as channel:
            _report(channel, _phone_report())
        os.kill(int(pids["writer"]), signal.SIGKILL)
        os.kill(running.process.pid, signal.SIGKILL)
    finally:
        running.terminate(sig=signal.SIGKILL)
    for pid in pids.values():  # the readers drain on their own once the supervisor is gone
        wait_until(functools.partial(_gone, int(pid)), timeout=20, interval=0.05,
                   message=f"process {pid} still running")
    restarted = _start(tmp_path, secret_file, workers)
    try:
        with grpc.insecure_channel(restarted.address) as channel:
            assert _listed(channel)
    finally:
        restarted.terminate()


def _gone(pid: int) -> bool:
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("workers", [1, 2])
def test_expiry_sweep_purges_and_records_the_removal(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret, workers: int
) -> None:
    """A contribution past its expires_at stops counting, the sweep purges it, and the changelog says UNLISTED."""
    running = _start(tmp_path, secret_file, workers)
    try:
        with grpc.insecure_channel(running.address) as channel:
            reported = _report(channel, _phone_report(expires_at=int(time.time()) + 2))
            assert _listed(channel)
            wait_until(lambda: not _listed(channel), timeout=15, interval=0.05,
                       message="the expired contribution still counts")
        purged = running.wait_for_log(lambda e: e.get("event") == "expiry_purged", timeout=15)
        assert purged["purged"] == 1 and int(str(purged["list_version"])) > reported.list_version
    finally:
        assert running.terminate() == 0
    key = Digester(secret).storage_key(EntityType.PHONE, PHONE)
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        assert store.lookup(key) is None
        changes = [change for _, entry in store.changes_since(0) for change in entry]
        assert [(change.key, change.listed) for change in changes] == [(key, True), (key, False)]


@pytest.mark.parametrize("disclose", [False, True], ids=["withheld", "disclosed"])
def test_get_entry_shows_sources_only_as_the_network_allows(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret, disclose: bool
) -> None:
    """GetEntry: own contribution in full; another partner's without reference, its id only if disclosed."""
    running = _start(tmp_path, secret_file, 2, f"disclose_sources = {str(disclose).lower()}\n")
    try:
        ingest_phone(running.admin_address, secret)  # bank-a, telecom fraud
        with grpc.insecure_channel(running.address) as channel:
            _report(channel, _phone_report(reference="DEV-CASE-7"))
            entry: pb.GetEntryResponse = _stub(channel).GetEntry(
                pb.GetEntryRequest(subject=PHONE_SUBJECT), timeout=10)
            missing: pb.GetEntryResponse = _stub(channel).GetEntry(
                pb.GetEntryRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="+8613900139000")),
                timeout=10)
    finally:
        running.terminate()
    assert entry.verdict.listed and entry.verdict.source_count == 2
    assert entry.sources_disclosed is disclose and entry.request_id
    own = [c for c in entry.contributions if c.own]
    other = [c for c in entry.contributions if not c.own]
    assert [(c.source, c.reference, c.category) for c in own] == [("dev", "DEV-CASE-7", pb.CATEGORY_MONEY_MULE)]
    assert [(c.source, c.reference, c.category) for c in other] == [
        ("bank-a" if disclose else "", "", pb.CATEGORY_TELECOM_FRAUD)]
    assert not missing.verdict.listed and not missing.contributions
