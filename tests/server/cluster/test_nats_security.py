"""A node's NATS connection over TLS with an nkey, against a real nats-server that requires client certificates and
an nkey user: the right files join and serve; a wrong nkey, no CA or no client certificate is one clear error at
start (exit 1), never a traceback, and the seed appears in no log or message."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.cluster.log_entry import LogEntry
from risklist_server.cluster.nats_auth import NO_AUTH, NatsAuth, nats_auth
from risklist_server.cluster.write_log import LogSettings, PlaintextRefused, TlsOnlyClient, WriteLog
from risklist_server.core.errors import ConfigError
from risklist_server.core.partners import Role
from risklist_server.store.risk_store import init_store
from tests.support.cluster_nodes import phone, serving
from tests.support.policies import BLOCK_HIGH
from tests.support.running_server import BIN, start_server
from tests.support.waiting import wait_until
from tools.local_nats import NatsCluster, NatsSecurity, write_nkey_seed

UNIT_LOG = LogSettings(replicas=1, max_bytes=64 * 2**20, stream="SECURITY_TEST", subject="security.test")
"""The unit tests' own stream: the node's (RISKLIST_WRITES) names its network."""


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """One nats-server requiring TLS with a client certificate and the nodes' nkey user, for the whole module."""
    started = NatsCluster.create(tmp_path_factory.mktemp("secure-nats"), size=1, secure=True)
    try:
        started.start()
        yield started
    finally:
        started.stop()


def _security(cluster: NatsCluster) -> NatsSecurity:
    assert cluster.security is not None
    return cluster.security


def _seed(path: Path) -> str:
    return path.read_text().strip()


def test_a_log_with_the_clusters_ca_certificate_and_nkey_appends_and_reads(secure: NatsCluster) -> None:
    """The right TLS files and nkey connect, and the log works as over plaintext."""
    entry = LogEntry("Report", "bank-a", frozenset({Role.CONTRIBUTE}), "request-1", 1_800_000_000_000, b"body")
    with WriteLog(secure.urls, UNIT_LOG, auth=_security(secure).auth()).open() as log:
        sequence = log.append(entry, timeout_s=15)
        assert log.read(sequence - 1, limit=10, timeout_s=5) == [(sequence, entry)]


def _refusal(cluster: NatsCluster, auth: NatsAuth) -> str:
    """The refusal's message; the refused log leaves nothing open behind it (a socket collected once its loop
    closed warns, and pytest fails the test: collecting now makes that certain rather than left to chance)."""
    with pytest.raises(ConfigError) as refused:
        WriteLog(cluster.urls, UNIT_LOG, auth=auth).open()
    gc.collect()
    return str(refused.value)


def test_a_wrong_nkey_is_refused_at_open_naming_its_public_key_never_its_seed(secure: NatsCluster,
                                                                                tmp_path: Path) -> None:
    """An nkey the servers do not list is a ConfigError naming the key to list, without the seed."""
    security = _security(secure)
    public = write_nkey_seed(tmp_path / "other.nk")
    wrong = nats_auth(ca=str(security.ca), cert=str(security.cert), key=str(security.key),
                      nkey=str(tmp_path / "other.nk"))
    message = _refusal(secure, wrong)
    assert f"refused this node's nkey {public}" in message and "authorization block" in message
    assert _seed(tmp_path / "other.nk") not in message


@pytest.mark.parametrize(("case", "expected"), [
    ("no CA", "certificate is not trusted by this machine's default CAs (no --cluster-ca given)"),
    ("no client certificate", "give --cluster-cert and --cluster-key"),
    ("no nkey", "they require credentials; give --cluster-nkey"),
])
def test_missing_tls_or_credentials_is_a_clear_error_at_open(secure: NatsCluster, case: str, expected: str) -> None:
    """Without the CA, the client certificate or the nkey the servers require, opening the log says which to give."""
    security = _security(secure)
    auth = {"no CA": NO_AUTH,
            "no client certificate": nats_auth(ca=str(security.ca), nkey=str(security.nkey_seed)),
            "no nkey": nats_auth(ca=str(security.ca), cert=str(security.cert), key=str(security.key))}[case]
    assert expected in _refusal(secure, auth)


@pytest.fixture(scope="module")
def plaintext(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """One nats-server without TLS or authentication."""
    started = NatsCluster.create(tmp_path_factory.mktemp("plain-nats"), size=1)
    try:
        started.start()
        yield started
    finally:
        started.stop()


def test_a_log_that_requires_tls_refuses_a_server_without_it(secure: NatsCluster, plaintext: NatsCluster) -> None:
    """With --cluster-ca, a server that does not offer TLS is refused at open, saying to give it a tls block."""
    assert "a NATS server does not offer TLS, which --cluster-ca asks for" in _refusal(plaintext,
                                                                                     _security(secure).auth())


def test_every_connection_not_only_the_first_refuses_a_server_without_tls() -> None:
    """The check runs on each server's first INFO, which nats-py handles at every reconnection too, before the
    node sends anything (its CONNECT, its subscriptions)."""
    with pytest.raises(PlaintextRefused):
        asyncio.run(TlsOnlyClient()._process_info({"server_id": "impostor"}, initial_connection=True))


def test_a_node_with_tls_and_its_nkey_joins_and_serves_a_report_without_logging_the_seed(
        secure: NatsCluster, tmp_path: Path, secret_file: Path) -> None:
    """risklist-server with --cluster-ca/-cert/-key/-nkey joins the secure cluster, serves a Report, and its start
    line says how it talks to NATS; the seed appears nowhere in its log."""
    node = start_server(tmp_path / "node", secret_file, *secure.node_flags(), "--node-id", "secure-1",
                        "--log-replicas", "1", "--log-max-bytes", "64M")
    try:
        assert node.serving["cluster_tls"] == "mutual"
        assert node.serving["cluster_nkey"] == _security(secure).nkey_public
        wait_until(lambda: serving(node.address), timeout=30, message="the node never caught up with the log")
        stub = pb_grpc.RiskListStub(grpc.insecure_channel(node.address))
        report = pb.Report(subject=phone(1), category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH)
        assert stub.Report(pb.ReportRequest(reports=[report]), timeout=10).added == 1
        assert stub.Check(pb.CheckRequest(subject=phone(1)), timeout=5).verdict.listed
        policy = tmp_path / "policy.toml"
        policy.write_text(BLOCK_HIGH)
        pushed = subprocess.run([str(BIN / "risklist-admin"), "policy", "push", *secure.node_flags(), "--file",
                                 str(policy)], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert pushed.returncode == 0, pushed.stderr  # risklist-admin connects with the nodes' TLS and nkey
        wait_until(lambda: stub.Check(pb.CheckRequest(subject=phone(1)), timeout=5).verdict.reason_code
                   == "BLOCK_ANY_HIGH", timeout=15, message="the policy pushed over TLS never decided the node")
    finally:
        node.terminate()
    seed = _seed(_security(secure).nkey_seed)
    assert seed not in node.output() and seed not in json.dumps(node.log_lines)
    assert seed not in pushed.stdout + pushed.stderr


def _refused_node(cluster: NatsCluster, tmp_path: Path, secret: NetworkSecret, *flags: str) -> str:
    """The stderr of a node (its store made) started with `flags` on `cluster`, which must exit 1."""
    init_store(tmp_path / "refused", secret.fingerprint)
    secret_file = write_secret(tmp_path / "refused.secret", secret)
    result = subprocess.run([str(BIN / "risklist-server"), "--db", str(tmp_path / "refused"), "--secret-file",
                             str(secret_file), "--insecure-dev", "--workers", "1", "--listen", "127.0.0.1:0",
                             "--admin-listen", "127.0.0.1:0", "--cluster", ",".join(cluster.urls), "--node-id",
                             "refused", "--log-replicas", "1", "--log-max-bytes", "64M", "--log-format", "json",
                             *flags], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_a_node_with_a_wrong_nkey_is_refused_at_start_with_one_clear_line_and_no_seed(
        secure: NatsCluster, tmp_path: Path, secret: NetworkSecret) -> None:
    """A node whose nkey the servers do not list exits 1 saying so, naming the public key, never the seed."""
    security = _security(secure)
    public = write_nkey_seed(tmp_path / "wrong.nk")
    stderr = _refused_node(secure, tmp_path, secret, "--cluster-ca", str(security.ca), "--cluster-cert",
                           str(security.cert), "--cluster-key", str(security.key), "--cluster-nkey",
                           str(tmp_path / "wrong.nk"))
    assert f"risklist-server: error: the NATS servers refused this node's nkey {public}" in stderr
    assert _seed(tmp_path / "wrong.nk") not in stderr


def test_a_node_without_the_ca_is_refused_at_start_with_one_clear_line(
        secure: NatsCluster, tmp_path: Path, secret: NetworkSecret) -> None:
    """A node that cannot verify the servers' certificates exits 1 saying to give --cluster-ca."""
    security = _security(secure)
    stderr = _refused_node(secure, tmp_path, secret, "--cluster-nkey", str(security.nkey_seed))
    assert "risklist-server: error: a NATS server's certificate is not trusted" in stderr
    assert "give --cluster-ca" in stderr
    assert _seed(security.nkey_seed) not in stderr
