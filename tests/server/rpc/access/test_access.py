"""Mutual TLS, roles and quotas against a real risklist-server subprocess on loopback."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.cli.certs import issue
from risklist_server.rpc.access.guard import role_for
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.mtls import DevNetwork, dev_network
from tests.support.running_server import ServerProcess, start_server

PARTNERS = """
[partners.querier]
roles = ["query"]
[partners.contributor]
roles = ["contribute"]
[partners.operator]
roles = ["admin"]
ingest_sources = ["bank-a"]  # tests.support.admin_ingest loads as bank-a
[partners.tight]
roles = ["query"]
requests_per_second = 2
requests_burst = 2
[partners.batcher]
roles = ["query"]
subjects_per_second = 10
subjects_burst = 10
[partners.raw-batcher]
roles = ["query"]
subjects_per_second = 10
subjects_burst = 10
[partners.idna-batcher]
roles = ["query"]
subjects_per_second = 1000
subjects_burst = 1000
[partners.idna-checker]
roles = ["query"]
subjects_per_second = 300
subjects_burst = 300
[partners.idna-reporter]
roles = ["query", "contribute"]
subjects_per_second = 500
subjects_burst = 500
"""
ROLE_PARTNER = {"query": "querier", "contribute": "contributor", "admin": "operator"}
METHODS: list[MethodDescriptor] = [
    method for service in pb.DESCRIPTOR.services_by_name.values() for method in service.methods
]


class Network:
    def __init__(self, network: DevNetwork, server: ServerProcess, secret: NetworkSecret) -> None:
        self.dev = network
        self.server = server
        self.secret = secret

    def address_of(self, method: MethodDescriptor) -> str:
        return self.server.admin_address if method.containing_service.name == "Admin" else self.server.address


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory = tmp_path_factory.mktemp("access")
    secret = NetworkSecret(secrets.token_bytes(32))
    secret_file = directory / "network.secret"
    write_secret(secret_file, secret)
    dev = dev_network(directory, PARTNERS, also_issue=("stranger",))
    server = start_server(directory / "db", secret_file, tls=dev.server_tls)
    yield Network(dev, server, secret)
    assert server.terminate() == 0


def _call(channel: grpc.Channel, method: MethodDescriptor) -> grpc.StatusCode:
    """Call `method` with empty messages (raw bytes); the status code it ends with."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.client_streaming and method.server_streaming:
            list(channel.stream_stream(path)(iter([b""]), timeout=10))
        elif method.client_streaming:
            channel.stream_unary(path)(iter([b""]), timeout=10)
        elif method.server_streaming:
            list(channel.unary_stream(path)(b"", timeout=10))
        else:
            channel.unary_unary(path)(b"", timeout=10)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.mark.parametrize("method", METHODS, ids=lambda method: f"{method.containing_service.name}.{method.name}")
def test_each_method_admits_its_role_and_denies_the_others(network: Network, method: MethodDescriptor) -> None:
    """A partner with the method's role gets past the gate; partners with only another role get PERMISSION_DENIED."""
    needed = role_for(f"/{method.containing_service.full_name}/{method.name}").value
    address = network.address_of(method)
    with network.dev.channel(address, ROLE_PARTNER[needed]) as channel:
        admitted = _call(channel, method)
    assert admitted not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED,
                            grpc.StatusCode.UNIMPLEMENTED)
    for role, partner in ROLE_PARTNER.items():
        if role != needed:
            with network.dev.channel(address, partner) as channel:
                assert _call(channel, method) is grpc.StatusCode.PERMISSION_DENIED, (role, method.name)


def test_permission_denied_names_the_role_needed(network: Network) -> None:
    """The denial says which role the method needs and which partner asked."""
    with network.dev.channel(network.server.address, "contributor") as channel, \
            pytest.raises(grpc.RpcError) as raised:
        pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=pb.Subject(
            type=pb.ENTITY_TYPE_IP, value="192.0.2.1")), timeout=10)
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "'contributor'" in raised.value.details() and "'query' role" in raised.value.details()


def test_a_querier_sees_what_the_operator_ingested(network: Network) -> None:
    """The admin partner's Ingest over mTLS is visible to a query partner's Check over mTLS."""
    ingest_phone(network.server.admin_address, network.secret, tls=network.dev.client("operator"))
    with network.dev.channel(network.server.address, "querier") as channel:
        answer = pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=pb.Subject(
            type=pb.ENTITY_TYPE_PHONE, value=PHONE)), timeout=10)
    assert answer.verdict.listed


def test_a_partner_outside_the_partners_file_is_unauthenticated(network: Network) -> None:
    """A certificate from the network's CA whose CN is no member gets UNAUTHENTICATED on both ports."""
    for address in (network.server.address, network.server.admin_address):
        with network.dev.channel(address, "stranger") as channel, pytest.raises(grpc.RpcError) as raised:
            channel.unary_unary("/risklist.v1.RiskList/Check" if address == network.server.address
                                else "/risklist.v1.Admin/GetQuality")(b"", timeout=10)
        assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert "'stranger'" in raised.value.details() and "not a member" in raised.value.details()


def test_clients_without_a_certificate_of_the_network_cannot_connect(network: Network, tmp_path: Path) -> None:
    """No client certificate, or one from another CA with a member's CN, fails the TLS handshake on both ports."""
    issue(tmp_path / "other-ca", ["querier", "operator"], days=1)
    ca = (network.dev.certs / "ca.pem").read_bytes()
    other = tmp_path / "other-ca"
    foreign = {partner: ((other / f"{partner}.key").read_bytes(), (other / f"{partner}.pem").read_bytes())
               for partner in ("querier", "operator")}
    for address, partner in ((network.server.address, "querier"), (network.server.admin_address, "operator")):
        for credentials in (grpc.ssl_channel_credentials(ca),
                            grpc.ssl_channel_credentials(ca, *foreign[partner])):
            with grpc.secure_channel(address, credentials) as channel, pytest.raises(grpc.RpcError) as raised:
                channel.unary_unary("/risklist.v1.RiskList/Check")(b"", timeout=10)
            assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(network.server.address) as plain, pytest.raises(grpc.RpcError) as raised:
        plain.unary_unary("/risklist.v1.RiskList/Check")(b"", timeout=10)
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE


def _details(error: grpc.RpcError) -> tuple[error_details_pb2.RetryInfo, error_details_pb2.QuotaFailure]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    retry, failure = error_details_pb2.RetryInfo(), error_details_pb2.QuotaFailure()
    kinds = set()
    for detail in status.details:
        for message in (retry, failure):
            if detail.Is(message.DESCRIPTOR):
                detail.Unpack(message)
                kinds.add(type(message).__name__)
    assert kinds == {"RetryInfo", "QuotaFailure"}
    return retry, failure


def test_request_quota_exhaustion_and_recovery(network: Network) -> None:
    """Past its burst a partner gets RESOURCE_EXHAUSTED with RetryInfo; others go on; after the delay it works."""
    check = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.7"))
    with network.dev.channel(network.server.address, "tight") as tight, \
            network.dev.channel(network.server.address, "querier") as other:
        stub, other_stub = pb_grpc.RiskListStub(tight), pb_grpc.RiskListStub(other)
        refused: grpc.RpcError | None = None
        for _ in range(4):  # burst 2: the third call at the latest is refused
            try:
                stub.Check(check, timeout=10)
            except grpc.RpcError as error:
                refused = error
                break
        assert refused is not None and refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        retry, failure = _details(refused)
        delay = retry.retry_delay.ToTimedelta().total_seconds()
        assert 0 < delay <= 0.5 + 0.001  # one request at 2 per second
        assert failure.violations[0].subject == "partner:tight"
        assert failure.violations[0].description.startswith("requests_per_second: 2")
        for _ in range(5):
            assert not other_stub.Check(check, timeout=10).verdict.listed
        time.sleep(delay)  # exactly what the server asked for
        assert not stub.Check(check, timeout=10).verdict.listed


def _digest_batch(secret: NetworkSecret, count: int) -> pb.BatchCheckRequest:
    digester = Digester(secret)
    return pb.BatchCheckRequest(subjects=[
        pb.Subject(type=pb.ENTITY_TYPE_IP, digest=digester.digest(EntityType.IP, f"192.0.2.{index}"))
        for index in range(count)])


def test_a_raw_value_costs_eight_subjects_of_the_quota(network: Network) -> None:
    """The server normalises and digests raw values: each costs 8 of the subjects quota, a digest 1, so a member's
    quota bounds the CPU it can take whichever it sends."""
    raw = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.1")])
    with network.dev.channel(network.server.address, "raw-batcher") as channel:
        stub = pb_grpc.RiskListStub(channel)
        stub.BatchCheck(raw, timeout=10)  # 8 of the burst of 10
        stub.BatchCheck(_digest_batch(network.secret, 2), timeout=10)  # the 2 left
        with pytest.raises(grpc.RpcError) as raised:
            stub.BatchCheck(raw, timeout=10)
    assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "a subject sent as a raw value counts 8, a digest 1" in raised.value.details()


SLOW_DOMAIN = "ü" * 236 + ".cn"
"""An e-mail domain of 240 characters: IDNA takes 0.6-0.9 ms to find it too long (benchmarks/normalise_cost.py)."""


def _emails(domain: str, count: int) -> pb.BatchCheckRequest:
    return pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_EMAIL, value=f"user{index}@{domain}")
                                          for index in range(count)])


def _slow_requests(method: str) -> list[Message]:
    """Raw values slow to normalise: 30 Checks of one, or two Reports of 40 (some 26 ms of IDNA each)."""
    if method == "Check":
        return [pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_EMAIL, value="user@" + SLOW_DOMAIN))] * 30
    return [pb.ReportRequest(reports=[
        pb.Report(subject=subject, category=pb.CATEGORY_OTHER, level=pb.RISK_LEVEL_LOW)
        for subject in _emails(SLOW_DOMAIN, 40).subjects])] * 2


def _next_call_refused(stub: pb_grpc.RiskListStub, secret: NetworkSecret) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        stub.BatchCheck(_digest_batch(secret, 1), timeout=10)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "subjects per second" in refused.value.details()


def test_raw_values_slow_to_normalise_cost_the_cpu_they_took(network: Network) -> None:
    """Raw values cost the quota what normalising them cost the server once that passes 8 subjects (16 us) each:
    40 e-mails with a 240-character internationalised domain (0.6-0.9 ms of IDNA each) leave the member
    owing thousands of subjects, and its next call is refused; 40 plain e-mails cost 320 and leave room. Before,
    both cost 320, and within its quota a member could take some 25 CPU-seconds a second of IDNA per worker."""
    with network.dev.channel(network.server.address, "idna-batcher") as channel:
        stub = pb_grpc.RiskListStub(channel)
        stub.BatchCheck(_emails("example.cn", 40), timeout=10)
        stub.BatchCheck(_digest_batch(network.secret, 1), timeout=10)  # plain ones left room
        with pytest.raises(grpc.RpcError) as invalid:  # too long to be an e-mail, which it takes IDNA to say
            stub.BatchCheck(_emails(SLOW_DOMAIN, 40), timeout=10)
        assert invalid.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        _next_call_refused(stub, network.secret)


@pytest.mark.parametrize(("partner", "method"), [("idna-checker", "Check"), ("idna-reporter", "Report")])
def test_checks_and_reports_of_raw_values_slow_to_normalise_are_charged_their_cpu(
    network: Network, partner: str, method: str
) -> None:
    """Check and Report normalise raw values as BatchCheck does, and charge them alike: 8 subjects each up front and
    the CPU of slow ones after (some 275 subjects a Check here, 13,000 a Report), which leaves a member whose quota
    is 300 or 500 in debt; the debt then refuses its next Check or Report before anything is normalised, and its
    lookups. Neither a querier nor a contributor can take a worker's CPU with them; the quotas leave room for a
    CPU 5 times as fast."""
    with network.dev.channel(network.server.address, partner) as channel:
        stub = pb_grpc.RiskListStub(channel)
        codes = []
        for request in _slow_requests(method):
            with pytest.raises(grpc.RpcError) as failed:
                getattr(stub, method)(request, timeout=10)
            codes.append(failed.value.code())
            if codes[-1] is not grpc.StatusCode.INVALID_ARGUMENT:
                break
        assert codes[0] is grpc.StatusCode.INVALID_ARGUMENT
        assert codes[-1] is grpc.StatusCode.RESOURCE_EXHAUSTED
        _next_call_refused(stub, network.secret)


def test_subject_quota_counts_batch_and_stream_subjects(network: Network) -> None:
    """BatchCheck and StreamCheck charge their subjects: past the burst RESOURCE_EXHAUSTED names the subjects quota."""
    with network.dev.channel(network.server.address, "batcher") as channel:
        stub = pb_grpc.RiskListStub(channel)
        stub.BatchCheck(_digest_batch(network.secret, 10), timeout=10)
        with pytest.raises(grpc.RpcError) as raised:
            stub.BatchCheck(_digest_batch(network.secret, 5), timeout=10)
        assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        retry, failure = _details(raised.value)
        assert failure.violations[0].description.startswith("subjects_per_second: 10")
        time.sleep(retry.retry_delay.ToTimedelta().total_seconds())
        answers = stub.StreamCheck(iter([_digest_batch(network.secret, 5), _digest_batch(network.secret, 5)]),
                                   timeout=10)
        with pytest.raises(grpc.RpcError) as streamed:
            list(answers)
        assert streamed.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
