"""What an operator sees on /metrics of a real two-worker server over mutual TLS, and in its RPC log lines."""

from __future__ import annotations

import os
import queue
import secrets
import signal
import urllib.request
from collections.abc import Iterator

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.core.policy_file import policy_version
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.mtls import DevNetwork, dev_network
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

PARTNERS = """
[partners.alice]
roles = ["query"]
[partners.bob]
roles = ["query"]
requests_per_second = 0.001
requests_burst = 1
[partners.operator]
roles = ["admin"]
ingest_sources = ["bank-a"]  # tests.support.admin_ingest loads as bank-a
"""
POLICY = b"""
[default]
action = "ALLOW"
reason_code = "ALLOW_LOW"
"""
RISKLIST = "risklist.v1.RiskList"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Server:
    def __init__(self, dev: DevNetwork, process: ServerProcess, secret: NetworkSecret, policy: bytes) -> None:
        self.dev = dev
        self.process = process
        self.secret = secret
        self.policy = policy

    def scrape(self) -> Samples:
        """Every sample on /metrics, by name and labels."""
        url = f"http://127.0.0.1:{self.process.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        return {(sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent: a counter not yet counted)."""
        return self.scrape().get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("metrics")
    secret = NetworkSecret(secrets.token_bytes(32))
    secret_file = write_secret(directory / "network.secret", secret)
    dev = dev_network(directory, PARTNERS, also_issue=("stranger",))
    policy = directory / "policy.toml"
    policy.write_bytes(POLICY)
    config = directory / "settings.toml"
    config.write_text("max_streams_per_member = 1\n")
    process = start_server(directory / "db", secret_file, "--workers", "2", "--metrics-listen", "127.0.0.1:0",
                           "--rpc-log", "all", "--policy", str(policy), "--config", str(config), tls=dev.server_tls)
    try:
        yield Server(dev, process, secret, POLICY)
    finally:
        process.terminate()


def _check(channel: grpc.Channel, value: str = PHONE) -> grpc.StatusCode:
    request = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=value))
    try:
        pb_grpc.RiskListStub(channel).Check(request, timeout=10)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_calls_are_counted_per_method_and_member_with_refusals_by_reason(server: Server) -> None:
    """Latency histograms per method and each member's requests, subjects and refusals (by reason) add up over both
    workers; a stranger's refusals count under one "(not a member)" label."""
    before = server.scrape()
    with server.dev.channel(server.process.address, "alice") as alice:
        assert [_check(alice) for _ in range(3)] == [grpc.StatusCode.OK] * 3
        assert _check(alice, "not a phone") == grpc.StatusCode.INVALID_ARGUMENT
        two = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)] * 2)
        pb_grpc.RiskListStub(alice).BatchCheck(two, timeout=10)
        with pytest.raises(grpc.RpcError) as refused:
            pb_grpc.RiskListStub(alice).Report(pb.ReportRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with server.dev.channel(server.process.address, "bob") as bob:
        assert [_check(bob), _check(bob)] == [grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED]
    with server.dev.channel(server.process.address, "stranger") as stranger:
        assert _check(stranger) == grpc.StatusCode.UNAUTHENTICATED
    after = server.scrape()

    def grew(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("grpc_server_handling_seconds_count", grpc_service=RISKLIST, grpc_method="Check") == 7
    assert grew("grpc_server_handling_seconds_bucket", grpc_service=RISKLIST, grpc_method="Check", le="5.0") == 7
    assert grew("grpc_server_handling_seconds_count", grpc_service=RISKLIST, grpc_method="BatchCheck") == 1
    assert grew("risklist_member_requests_total", partner="alice", grpc_method="Check") == 4
    assert grew("risklist_member_requests_total", partner="alice", grpc_method="Report") == 1
    assert grew("risklist_member_subjects_total", partner="alice") == 6
    assert grew("risklist_member_refusals_total", partner="alice", reason="invalid_argument") == 1
    assert grew("risklist_member_refusals_total", partner="alice", reason="role") == 1
    assert grew("risklist_member_requests_total", partner="bob", grpc_method="Check") == 2
    assert grew("risklist_member_refusals_total", partner="bob", reason="quota_requests") == 1
    assert grew("risklist_member_refusals_total", partner="(not a member)", reason="not_a_member") == 1
    assert not any(dict(labels).get("partner") == "stranger" for _, labels in after)


def test_open_streams_are_a_gauge_per_member_and_the_cap_a_refusal(server: Server) -> None:
    """While alice holds a StreamCheck open /metrics shows it; her next one is refused (stream cap) and counted;
    once closed the gauge is back to zero."""
    outgoing: queue.Queue[pb.BatchCheckRequest | None] = queue.Queue()
    request = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)])

    def requests() -> Iterator[pb.BatchCheckRequest]:
        while (item := outgoing.get()) is not None:
            yield item

    refused_before = server.value("risklist_member_refusals_total", partner="alice", reason="stream_cap_member")
    with server.dev.channel(server.process.address, "alice") as alice:
        stub = pb_grpc.RiskListStub(alice)
        responses = stub.StreamCheck(requests(), timeout=60)
        outgoing.put(request)
        next(responses)
        assert server.value("risklist_open_streams", partner="alice") == 1
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.StreamCheck(iter([request]), timeout=10))
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        outgoing.put(None)
        assert list(responses) == []
    assert server.value("risklist_member_refusals_total", partner="alice",
                        reason="stream_cap_member") == refused_before + 1
    wait_until(lambda: server.value("risklist_open_streams", partner="alice") == 0, timeout=10,
               message="alice's stream no longer counted as open")


def test_list_versions_policy_and_connections_per_worker(server: Server) -> None:
    """Each process's list version follows a write, each reader's last catch-up is recent, every worker serves the
    policy file's version, and the partner port's connections are counted as the kernel sees them."""
    version = ingest_phone(server.process.admin_address, server.secret, tls=server.dev.client("operator"))
    for worker in ("writer", "reader-1", "reader-2"):
        wait_until(lambda w=worker: server.value("risklist_list_version", worker=w) >= version, timeout=10,
                   message=f"{worker}'s list version at {version}")
    samples = server.scrape()
    for reader in ("reader-1", "reader-2"):
        assert samples[("risklist_reader_caught_up_timestamp_seconds", frozenset({("worker", reader)}))] > 0
    assert server.value("risklist_policy_in_force", version=policy_version(server.policy)) == 3
    with server.dev.channel(server.process.address, "alice") as alice:
        assert _check(alice) == grpc.StatusCode.OK
        samples = server.scrape()
        established = sum(value for (name, labels), value in samples.items()
                          if name == "risklist_partner_connections" and ("state", "established") in labels)
        assert established >= 1
    assert server.value("risklist_partner_connections_limit") > 0


def test_rpc_log_lines_name_the_member_and_the_request(server: Server) -> None:
    """An answered call's `rpc` line and a refused one's `rpc_refused` line carry the partner and a request id."""
    with server.dev.channel(server.process.address, "alice") as alice:
        assert _check(alice) == grpc.StatusCode.OK
        with pytest.raises(grpc.RpcError):
            pb_grpc.RiskListStub(alice).Report(pb.ReportRequest(), timeout=10)
    answered = server.process.wait_for_log(lambda e: e.get("event") == "rpc" and e.get("partner") == "alice")
    refused = server.process.wait_for_log(lambda e: e.get("event") == "rpc_refused" and e.get("partner") == "alice")
    for line in (answered, refused):
        request_id = line.get("request_id")
        assert isinstance(request_id, str) and len(request_id) == 24, line


def test_a_killed_reader_counts_as_a_worker_restart(server: Server) -> None:
    """kill -9 of a reader shows as risklist_worker_restarts_total{worker="reader-1"} once it serves again."""
    pids = server.process.serving["pids"]
    assert isinstance(pids, dict)
    before = server.value("risklist_worker_restarts_total", worker="reader-1")
    os.kill(int(pids["reader-1"]), signal.SIGKILL)
    wait_until(lambda: server.value("risklist_worker_restarts_total", worker="reader-1") == before + 1,
               timeout=30, message="reader-1's restart counted")


def test_failed_tls_handshakes_are_counted(server: Server) -> None:
    """A TLS client without a certificate, and a client that is not TLS at all, count as failed handshakes."""
    import contextlib
    import socket
    import ssl

    host, port = server.process.address.rsplit(":", 1)
    before = server.value("risklist_tls_handshakes_failed_total")
    context = ssl.create_default_context(cafile=str(server.dev.certs / "ca.pem"))
    context.check_hostname = False
    context.set_alpn_protocols(["h2"])
    for _ in range(2):
        with socket.create_connection((host, int(port)), timeout=10) as raw, contextlib.suppress(OSError), \
                context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.recv(1)  # TLS 1.3: the server's refusal of a missing certificate arrives here
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(512))
        raw.settimeout(10)
        with contextlib.suppress(OSError):
            raw.recv(1)
    wait_until(lambda: server.value("risklist_tls_handshakes_failed_total") >= before + 3, timeout=15,
               message="failed handshakes were not counted")
