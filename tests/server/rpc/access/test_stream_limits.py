"""Open streams per member and per worker, capped and timed out, against a real mutual-TLS risklist-server."""

from __future__ import annotations

import queue
import secrets
import time
from collections.abc import Iterator

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.cli.client_tls import open_channel
from tests.support.admin_ingest import PHONE
from tests.support.mtls import HOG_AND_OTHER, DevNetwork, dev_network
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

PARTNERS = HOG_AND_OTHER
PER_MEMBER = 3
THREADS = 2
IDLE_SECONDS = 2.0
BATCH = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)])


class _Held:
    """A StreamCheck kept open: one message answered, then idle until `close`."""

    def __init__(self, stub: pb_grpc.RiskListStub) -> None:
        self._requests: queue.Queue[pb.BatchCheckRequest | None] = queue.Queue()
        self._requests.put(BATCH)
        self.call = stub.StreamCheck(iter(self._requests.get, None), timeout=60)

    def first_answer(self) -> pb.BatchCheckResponse:
        return next(self.call)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._requests.put(None)
        self.call.cancel()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevNetwork, ServerProcess]]:
    directory = tmp_path_factory.mktemp("streams")
    secret_file = directory / "network.secret"
    write_secret(secret_file, NetworkSecret(secrets.token_bytes(32)))
    (directory / "settings.toml").write_text(
        f"max_streams_per_member = {PER_MEMBER}\nstream_idle_seconds = {IDLE_SECONDS}\n")
    dev = dev_network(directory, PARTNERS)
    server = start_server(directory / "db", secret_file, "--threads", str(THREADS), "--max-streams", "4",
                          "--config", str(directory / "settings.toml"), tls=dev.server_tls)
    yield dev, server
    assert server.terminate() == 0


def _open(dev: DevNetwork, server: ServerProcess, partner: str, count: int) -> tuple[grpc.Channel, list[_Held]]:
    channel = dev.channel(server.address, partner)
    stub = pb_grpc.RiskListStub(channel)
    held = [_Held(stub) for _ in range(count)]
    for stream in held:
        stream.first_answer()
    return channel, held


def test_a_member_over_its_stream_cap_gets_resource_exhausted(network: tuple[DevNetwork, ServerProcess]) -> None:
    """A member holding its cap of open StreamChecks is refused another with RESOURCE_EXHAUSTED saying why."""
    dev, server = network
    channel, held = _open(dev, server, "hog", PER_MEMBER)
    try:
        with pytest.raises(grpc.RpcError) as refused:
            list(pb_grpc.RiskListStub(channel).StreamCheck(iter([BATCH]), timeout=10))
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"already has {PER_MEMBER} open streams" in refused.value.details()
    finally:
        for stream in held:
            stream.close()
        channel.close()


def test_an_idle_stream_is_ended_after_the_idle_timeout(network: tuple[DevNetwork, ServerProcess]) -> None:
    """A StreamCheck with no message for stream_idle_seconds ends CANCELLED with a message naming the setting,
    and its slot is free again."""
    dev, server = network
    channel, held = _open(dev, server, "hog", PER_MEMBER)
    started = time.monotonic()
    try:
        for stream in held:
            with pytest.raises(grpc.RpcError) as ended:
                next(stream.call)
            assert ended.value.code() is grpc.StatusCode.CANCELLED
            assert "stream_idle_seconds" in ended.value.details()
        assert time.monotonic() - started >= IDLE_SECONDS * 0.9
        # The slots are released: the member may open streams again.
        stub = pb_grpc.RiskListStub(channel)
        wait_until(lambda: list(stub.StreamCheck(iter([BATCH]), timeout=10)), timeout=10,
                   message="the member's stream slots were not released after the idle timeout")
    finally:
        for stream in held:
            stream.close()
        channel.close()


NOT_READING = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024)]
"""A client whose streams take about 1 kB before they wait for it to read: its flow-control window fills at once."""


def test_a_download_whose_client_stops_reading_is_ended_after_the_idle_timeout(
    network: tuple[DevNetwork, ServerProcess],
) -> None:
    """GetFilter downloads a member never reads hold their slots only stream_idle_seconds: each then ends
    CANCELLED with a message naming the setting, the slots are free again, and the ending is logged."""
    dev, server = network
    channel = open_channel(server.address, dev.client("hog"),
                           options=[*NOT_READING, ("grpc.use_local_subchannel_pool", 1)])
    stub = pb_grpc.RiskListStub(channel)
    started = time.monotonic()
    stalled = [stub.GetFilter(pb.GetFilterRequest(), timeout=60) for _ in range(PER_MEMBER)]
    try:
        for call in stalled:
            assert next(call).HasField("header")  # the download began, then the client stops reading
        with dev.channel(server.address, "hog") as reader:
            def download() -> int:
                try:
                    return len(list(pb_grpc.RiskListStub(reader).GetFilter(pb.GetFilterRequest(), timeout=10)))
                except grpc.RpcError as error:
                    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, error
                    return 0

            wait_until(download, timeout=20, message="the stalled downloads still hold the member's slots")
        assert time.monotonic() - started >= IDLE_SECONDS * 0.9
        for call in stalled:
            with pytest.raises(grpc.RpcError) as ended:
                list(call)
            assert ended.value.code() is grpc.StatusCode.CANCELLED
            assert "took no response" in ended.value.details() and "stream_idle_seconds" in ended.value.details()
        line = server.wait_for_log(lambda entry: entry.get("event") == "stream_idle_ended"
                                   and entry.get("method") == "GetFilter")
        assert line["partner"] == "hog" and line["waiting_for"] == "client to read"
    finally:
        for call in stalled:
            call.cancel()
        channel.close()
