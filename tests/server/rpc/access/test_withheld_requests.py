"""A member that opens calls and withholds their request messages cannot starve a worker (a real mutual-TLS
risklist-server): Python's grpc server holds a thread for a call from its arrival until its request arrives."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from tests.support.admin_ingest import PHONE
from tests.support.mtls import HOG_AND_OTHER, DevNetwork, dev_network
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

PARTNERS = HOG_AND_OTHER
THREADS = 2
MAX_STREAMS = 2
SLOW_PER_MEMBER = 1
WAIT_SECONDS = 3.0
WITHHELD = 12
"""More calls than the worker has threads (THREADS + MAX_STREAMS)."""
CHECK = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE))


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevNetwork, ServerProcess]]:
    directory = tmp_path_factory.mktemp("withheld")
    secret_file = directory / "network.secret"
    write_secret(secret_file, NetworkSecret(secrets.token_bytes(32)))
    (directory / "settings.toml").write_text(
        f"max_slow_requests_per_member = {SLOW_PER_MEMBER}\nrequest_wait_seconds = {WAIT_SECONDS}\n")
    dev = dev_network(directory, PARTNERS)
    server = start_server(directory / "db", secret_file, "--threads", str(THREADS), "--max-streams",
                          str(MAX_STREAMS), "--config", str(directory / "settings.toml"), tls=dev.server_tls)
    yield dev, server
    assert server.terminate() == 0


class _Withheld:
    """`count` Check calls whose request message the client holds back until `release`."""

    def __init__(self, channel: grpc.Channel, count: int) -> None:
        self._release = threading.Event()
        grpc.channel_ready_future(channel).result(timeout=10)
        check = channel.stream_unary("/risklist.v1.RiskList/Check")
        self.calls = [check.future(self._requests(), timeout=60) for _ in range(count)]

    def _requests(self) -> Iterator[bytes]:
        self._release.wait(60)
        yield CHECK.SerializeToString()

    def ended(self) -> list[grpc.Future]:
        return [call for call in self.calls if call.done()]

    def release(self) -> None:
        self._release.set()
        for call in self.calls:
            call.cancel()


def test_calls_withholding_their_requests_do_not_starve_other_members(
    network: tuple[DevNetwork, ServerProcess],
) -> None:
    """While one member holds more calls without requests than the worker has threads, another member's Check
    is answered; the withheld calls beyond the member's share end RESOURCE_EXHAUSTED saying why, and the one
    kept ends CANCELLED once request_wait_seconds have passed; each is audited and logged."""
    dev, server = network
    hog, other = dev.channel(server.address, "hog"), dev.channel(server.address, "other")
    withheld = _Withheld(hog, WITHHELD)
    started = time.monotonic()
    try:
        answer = pb_grpc.RiskListStub(other).Check(CHECK, timeout=5)
        assert answer.request_id
        wait_until(lambda: len(withheld.ended()) == WITHHELD, timeout=WAIT_SECONDS + 10,
                   message="the withheld calls were never ended")
        codes = [call.exception().code() for call in withheld.calls]  # type: ignore[union-attr]
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == WITHHELD - SLOW_PER_MEMBER, codes
        assert codes.count(grpc.StatusCode.CANCELLED) == SLOW_PER_MEMBER, codes
        refused = next(call.exception() for call in withheld.calls
                       if call.exception().code() is grpc.StatusCode.RESOURCE_EXHAUSTED)  # type: ignore[union-attr]
        assert "max_slow_requests_per_member" in refused.details()  # type: ignore[union-attr]
        kept = next(call.exception() for call in withheld.calls
                    if call.exception().code() is grpc.StatusCode.CANCELLED)  # type: ignore[union-attr]
        assert "request_wait_seconds" in kept.details()  # type: ignore[union-attr]
        assert time.monotonic() - started >= WAIT_SECONDS * 0.9
        ended = server.wait_for_log(
            lambda line: line.get("event") == "request_wait_ended" and line.get("reason") == "waited too long")
        assert ended["partner"] == "hog" and ended["method"] == "Check"
    finally:
        withheld.release()
        hog.close()
        other.close()
