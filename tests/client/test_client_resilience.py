"""The SDK when things go wrong: a corrupt download, a stale filter, a server that goes away and comes back."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_client import RiskListClient
from risklist_client.errors import CheckFailed
from risklist_client.filter_sync import FilterSync
from risklist_client.metrics import Counters
from risklist_client.network_check import NetworkCheck
from risklist_kernel.bloom import ALGORITHM, BITS_PER_MASK, BlockedBloom
from risklist_kernel.secret import NetworkSecret
from tests.client.conftest import ingest_phones
from tests.support.running_server import start_server
from tests.support.waiting import wait_until

PHONE = "+8613800138000"


class FakeRiskList(pb_grpc.RiskListServicer):
    """A scripted RiskList: an empty filter, optional corrupt downloads and failing updates; counts calls."""

    def __init__(self) -> None:
        self.corrupt_downloads = 0
        self.updates_fail = False
        self.checks = 0
        self.update_calls: list[float] = []
        self.words = BlockedBloom(1024).to_bytes()
        self.hang_downloads = threading.Event()
        """Set: a download sends its header, then waits for the client to go away."""
        self.hung = threading.Event()
        self.fingerprint = ""
        """The secret fingerprint GetNetworkInfo advertises (the fixture sets the client's)."""
        self.filter_fingerprint: str | None = None
        """The one filter headers and updates name (None: `fingerprint`)."""

    def GetNetworkInfo(
        self, request: pb.GetNetworkInfoRequest, context: grpc.ServicerContext
    ) -> pb.GetNetworkInfoResponse:
        return pb.GetNetworkInfoResponse(secret_fingerprint=self.fingerprint, list_version=1)

    def _filter_fingerprint(self) -> str:
        return self.fingerprint if self.filter_fingerprint is None else self.filter_fingerprint

    def GetFilter(self, request: pb.GetFilterRequest, context: grpc.ServicerContext) -> Iterator[pb.FilterChunk]:
        checksum = hashlib.sha256(self.words).digest()
        if self.hang_downloads.is_set():
            yield pb.FilterChunk(header=pb.FilterHeader(
                version=1, total_bytes=len(self.words), key_count=0, secret_fingerprint=self._filter_fingerprint(),
                parameters=pb.FilterParameters(algorithm=ALGORITHM, word_count=1024, bits_per_key=BITS_PER_MASK)))
            self.hung.set()
            while context.is_active():
                time.sleep(0.01)
            return
        if self.corrupt_downloads > 0:
            self.corrupt_downloads -= 1
            checksum = bytes(32)
        yield pb.FilterChunk(header=pb.FilterHeader(
            version=1, total_bytes=len(self.words), key_count=0, secret_fingerprint=self._filter_fingerprint(),
            parameters=pb.FilterParameters(algorithm=ALGORITHM, word_count=1024, bits_per_key=BITS_PER_MASK)))
        yield pb.FilterChunk(data=self.words)
        yield pb.FilterChunk(trailer=pb.FilterTrailer(sha256=checksum))

    def GetFilterUpdates(
        self, request: pb.GetFilterUpdatesRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.FilterUpdate]:
        self.update_calls.append(time.monotonic())
        if self.updates_fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "scripted outage")
        yield pb.FilterUpdate(version=request.since_version, secret_fingerprint=self._filter_fingerprint())

    def Check(self, request: pb.CheckRequest, context: grpc.ServicerContext) -> pb.CheckResponse:
        self.checks += 1
        return pb.CheckResponse(verdict=pb.Verdict(listed=False), list_version=1, request_id="fake")


@pytest.fixture()
def fake(secret: NetworkSecret) -> Iterator[tuple[FakeRiskList, str]]:
    servicer = FakeRiskList()
    servicer.fingerprint = secret.fingerprint
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_RiskListServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(None).wait()


def test_a_download_failing_its_checksum_is_discarded_and_downloaded_again(
    fake: tuple[FakeRiskList, str], secret: NetworkSecret
) -> None:
    """A filter whose SHA-256 does not match its trailer is never used; the client downloads it again."""
    servicer, address = fake
    servicer.corrupt_downloads = 2
    with RiskListClient(address, secret=secret, update_interval=0.05) as client:
        assert not client.metrics().filter_loaded
        assert client.wait_for_filter(10)
        metrics = client.metrics()
        assert metrics.checksum_mismatches == 2 and metrics.filter_downloads == 1
        assert client.check("phone", PHONE).answered_by == "filter"


def test_close_does_not_wait_for_a_download_in_progress(fake: tuple[FakeRiskList, str], secret: NetworkSecret) -> None:
    """close() cancels a filter download the server is slow to finish instead of waiting up to its deadline."""
    servicer, address = fake
    servicer.hang_downloads.set()
    client = RiskListClient(address, secret=secret, download_deadline=300)
    assert servicer.hung.wait(10)
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 5


def test_close_during_a_download_is_no_refresh_failure(
    fake: tuple[FakeRiskList, str], secret: NetworkSecret, caplog: pytest.LogCaptureFixture
) -> None:
    """The download close() cancels is neither logged as a failed refresh nor counted as one."""
    servicer, address = fake
    servicer.hang_downloads.set()
    client = RiskListClient(address, secret=secret, download_deadline=300)
    assert servicer.hung.wait(10)
    with caplog.at_level(logging.INFO, logger="risklist_client"):
        client.close()
    assert [record.getMessage() for record in caplog.records if "refresh" in record.getMessage()] == []
    assert client.metrics().refresh_failures == 0


def test_a_stale_filter_sends_every_check_to_the_server_and_says_so(
    fake: tuple[FakeRiskList, str], secret: NetworkSecret
) -> None:
    """When updates fail for longer than max_staleness, checks go to the server (counted as fallbacks)."""
    servicer, address = fake
    with RiskListClient(address, secret=secret, update_interval=0.05, max_staleness=0.5, max_backoff=0.1) as client:
        assert client.wait_for_filter(10)
        assert client.check("phone", PHONE).answered_by == "filter"
        servicer.updates_fail = True
        wait_until(lambda: not client.metrics().filter_fresh, timeout=10)
        result = client.check("phone", PHONE)
        assert result.answered_by == "server" and servicer.checks == 1
        metrics = client.metrics()
        assert metrics.fallback_checks == 1 and metrics.refresh_failures > 0 and metrics.filter_age_seconds > 0.5
        servicer.updates_fail = False
        wait_until(lambda: client.metrics().filter_fresh, timeout=10)
        assert client.check("phone", PHONE).answered_by == "filter"


class _RecordingStop:
    """Stands in for the refresh thread's stop event: records each wait, stops after `rounds` of them."""

    def __init__(self, rounds: int) -> None:
        self.delays: list[float] = []
        self.rounds = rounds

    def is_set(self) -> bool:
        return len(self.delays) >= self.rounds

    def wait(self, delay: float) -> bool:
        self.delays.append(delay)
        return False


class _AwayStub:
    """A server that is away: every call fails."""

    def GetFilter(self, request: object, timeout: float) -> object:
        raise grpc.RpcError("connection refused")

    def GetNetworkInfo(self, timeout: float) -> pb.GetNetworkInfoResponse:
        raise grpc.RpcError("connection refused")


def test_a_filter_naming_another_secret_is_never_used(fake: tuple[FakeRiskList, str], secret: NetworkSecret) -> None:
    """A filter whose header names another secret's fingerprint is refused: checks go to the server, not to it."""
    servicer, address = fake
    servicer.filter_fingerprint = "0ther0ther0ther0"
    with RiskListClient(address, secret=secret, update_interval=0.05, max_backoff=0.1) as client:
        wait_until(lambda: client.metrics().secret_mismatches >= 2, timeout=10)
        assert not client.metrics().filter_loaded
        result = client.check("phone", PHONE)
        assert result.answered_by == "server" and servicer.checks == 1


def test_an_update_naming_another_secret_drops_the_filter(
    fake: tuple[FakeRiskList, str], secret: NetworkSecret
) -> None:
    """A loaded filter whose update names another secret is dropped at once: no local answer comes from it again."""
    servicer, address = fake
    with RiskListClient(address, secret=secret, update_interval=0.05, max_backoff=0.1) as client:
        assert client.wait_for_filter(10)
        assert client.check("phone", PHONE).answered_by == "filter"
        servicer.filter_fingerprint = "0ther0ther0ther0"
        wait_until(lambda: not client.metrics().filter_loaded, timeout=10)
        assert client.metrics().secret_mismatches >= 1
        assert client.check("phone", PHONE).answered_by == "server"


def test_refresh_waits_grow_exponentially_up_to_the_cap() -> None:
    """While every refresh fails, the waits double from 2x the interval (with 0.75-1 jitter) up to max_backoff."""
    counters = Counters()
    network = NetworkCheck(_AwayStub().GetNetworkInfo, "f1ngerprint", counters, target="away", deadline=1.0,
                           retry_interval=0.05)
    sync = FilterSync(_AwayStub(), counters, network=network, update_interval=0.05, max_staleness=1.0,
                      max_backoff=0.8, download_deadline=1.0)
    stop = _RecordingStop(rounds=6)
    sync._stop = stop  # type: ignore[assignment]
    sync._run()
    for delay, full in zip(stop.delays, [0.1, 0.2, 0.4, 0.8, 0.8, 0.8], strict=True):
        assert 0.75 * full <= delay <= full, stop.delays


def test_refresh_backs_off_while_the_server_is_away_and_recovers(
    fake: tuple[FakeRiskList, str], secret: NetworkSecret
) -> None:
    """Over the wire: failed refreshes are counted and backed off, and the normal interval returns once they succeed."""
    servicer, address = fake
    with RiskListClient(address, secret=secret, update_interval=0.05, max_backoff=0.8) as client:
        assert client.wait_for_filter(10)
        servicer.updates_fail = True
        wait_until(lambda: client.metrics().refresh_failures >= 2, timeout=10)
        assert client.metrics().backoff_seconds > 0.05
        servicer.updates_fail = False
        wait_until(lambda: client.metrics().backoff_seconds == 0 and client.metrics().filter_fresh, timeout=10)


def test_a_restarted_server_is_picked_up_again(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """The real server stops (refreshes fail, back-off grows), restarts on its port, and the client recovers."""
    server = start_server(tmp_path / "db", secret_file)
    port = server.port
    with RiskListClient(server.address, secret=secret, update_interval=0.1, max_backoff=0.5) as client:
        assert client.wait_for_filter(10)
        server.terminate()
        wait_until(lambda: client.metrics().refresh_failures >= 2 and client.metrics().backoff_seconds > 0, timeout=10)
        server = start_server(tmp_path / "db", secret_file, "--listen", f"127.0.0.1:{port}")
        try:
            ingest_phones(server.admin_address, secret, add=[PHONE])
            wait_until(lambda: client.metrics().backoff_seconds == 0 and client.check("phone", PHONE).listed,
                       timeout=15)
            assert client.metrics().filter_fresh
        finally:
            server.terminate()


def test_a_client_that_reaches_another_store_downloads_its_filter_again(tmp_path: Path, secret_file: Path,
                                                                        secret: NetworkSecret) -> None:
    """Another server (another store, the same secret) takes over the address the client uses, its list further
    along than the first's. Its updates since the client's version would leave out what it listed before that
    version: a false "not listed" for good. The filter names its list (the store's id), so the client sees the
    list change and downloads the new server's filter instead."""
    first = start_server(tmp_path / "first", secret_file)
    port = first.port
    for number in range(3):
        ingest_phones(first.admin_address, secret, add=[f"+861390000000{number}"])
    with RiskListClient(first.address, secret=secret, update_interval=0.1, max_backoff=0.5) as client:
        assert client.wait_for_filter(10)
        first.terminate()
        second = start_server(tmp_path / "second", secret_file, "--listen", f"127.0.0.1:{port}")
        try:
            moved = "+8613911112222"
            assert ingest_phones(second.admin_address, secret, add=[moved]) == 1  # before the client's version
            for number in range(5):
                ingest_phones(second.admin_address, secret, add=[f"+861370000000{number}"])
            wait_until(lambda: _listed_now(client, moved), timeout=30)
            assert client.metrics().filter_downloads >= 2  # the second store's filter replaced the first's
        finally:
            second.terminate()


def _listed_now(client: RiskListClient, phone: str) -> bool:
    """The check's answer; False while it fails (it fails closed, CheckFailed, as the channel reconnects)."""
    try:
        return client.check("phone", phone).listed
    except CheckFailed:
        return False
