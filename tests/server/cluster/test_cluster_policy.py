"""One policy for the network: `risklist-admin policy push` (run as operators run it) puts a checked policy file in
force on every node of a cluster of real processes and nats-servers, every verdict naming its version; a bad file
changes nothing, and a pushed policy a node cannot read is never served half-way."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret
from risklist_server.cluster.policy_bucket import PolicyBucket
from risklist_server.cluster.write_log import WriteLog
from risklist_server.store.risk_store import init_store
from tests.support.cluster_nodes import cluster_flags, health, phone
from tests.support.policies import BLOCK_HIGH
from tests.support.running_server import BIN, ServerProcess, start_server
from tests.support.waiting import wait_until
from tools.local_nats import NatsCluster

MAX_LAG_S = 2.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@pytest.fixture()
def nodes(cluster: NatsCluster, tmp_path: Path, secret_file: Path) -> Iterator[list[ServerProcess]]:
    """Node a: one worker; node b: a writer and two readers; one HIGH report listed on both."""
    started = [start_server(tmp_path / "a", secret_file, *cluster_flags(cluster, "a", max_lag_s=MAX_LAG_S)),
               start_server(tmp_path / "b", secret_file, "--workers", "2",
                            *cluster_flags(cluster, "b", max_lag_s=MAX_LAG_S))]
    wait_until(lambda: all(health(node.address) == SERVING for node in started), timeout=30,
               message="the nodes did not report SERVING once caught up with the log")
    report = pb.ReportRequest(reports=[pb.Report(subject=phone(1), category=pb.CATEGORY_MONEY_MULE,
                                                 level=pb.RISK_LEVEL_HIGH, reference="case-1")])
    assert _stub(started[0]).Report(report, timeout=10).added == 1
    wait_until(lambda: _verdict(started[1]).listed, timeout=10, message="node b never applied node a's Report")
    yield started
    for node in started:
        node.terminate()


def _stub(node: ServerProcess) -> pb_grpc.RiskListStub:
    return pb_grpc.RiskListStub(grpc.insecure_channel(node.address))


def _verdict(node: ServerProcess) -> pb.Verdict:
    return _stub(node).Check(pb.CheckRequest(subject=phone(1)), timeout=5).verdict


def _decision(node: ServerProcess) -> tuple[int, str, str]:
    verdict = _verdict(node)
    return verdict.action, verdict.reason_code, verdict.policy_version


def _admin(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "risklist-admin"), "policy", *arguments], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def _push(cluster: NatsCluster, path: Path) -> subprocess.CompletedProcess[str]:
    return _admin("push", "--cluster", ",".join(cluster.urls), "--file", str(path))


def _loaded_everywhere(node: ServerProcess, version: str, workers: tuple[str, ...]) -> None:
    """Every one of the node's `workers` logged that it serves `version`."""
    for worker in workers:
        node.wait_for_log(lambda line, w=worker: line.get("event") == "policy_loaded"
                          and line.get("worker") == w and line.get("version") == version, timeout=15)


def test_a_pushed_policy_decides_on_every_node_and_a_bad_file_changes_nothing(
        cluster: NatsCluster, nodes: list[ServerProcess], tmp_path: Path) -> None:
    """Pushed once, a policy decides every node's verdicts within seconds, each naming the same version; a file
    the server would refuse is refused with its line, and every node keeps the policy in force."""
    a, b = nodes
    for node in nodes:  # none pushed yet: every node says so at start and serves the built-in policy
        node.wait_for_log(lambda line: line.get("event") == "cluster_policy_adopted"
                          and line.get("version") == "built-in" and line.get("reload") is False)
        assert _decision(node) == (pb.ACTION_REVIEW, "REVIEW_HIGH_RISK", "built-in")

    policy = tmp_path / "policy.toml"
    policy.write_text(BLOCK_HIGH)
    pushed = _push(cluster, policy)
    assert pushed.returncode == 0, pushed.stderr
    assert f"version {_version(BLOCK_HIGH)}" in pushed.stdout
    expected = (pb.ACTION_BLOCK, "BLOCK_ANY_HIGH", _version(BLOCK_HIGH))
    wait_until(lambda: all(_decision(node) == expected for node in nodes), timeout=15,
               message="the pushed policy did not decide both nodes' verdicts")
    _loaded_everywhere(a, _version(BLOCK_HIGH), ("writer",))
    _loaded_everywhere(b, _version(BLOCK_HIGH), ("writer", "reader-1", "reader-2"))
    again = _push(cluster, policy)
    assert again.returncode == 0 and "already in force" in again.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text(BLOCK_HIGH.replace("allow_single_source = true\n", ""))  # one bank's word would block
    refused = _push(cluster, bad)
    assert refused.returncode == 1
    assert (f"policy file {bad}, line 2: rule 1: a BLOCK rule that one source can satisfy needs "
            "allow_single_source = true") in refused.stderr
    assert "Traceback" not in refused.stderr
    shown = _admin("show", "--cluster", ",".join(cluster.urls))
    assert shown.returncode == 0 and shown.stdout.startswith(f"version {_version(BLOCK_HIGH)} ")
    assert all(_decision(node) == expected for node in nodes)


def test_a_policy_a_node_cannot_read_is_never_served(
        cluster: NatsCluster, nodes: list[ServerProcess], tmp_path: Path, secret: NetworkSecret,
        secret_file: Path) -> None:
    """A pushed policy of a newer format (put in the bucket past the admin's check): each node keeps the policy it
    had, every verdict naming it, and reports NOT_SERVING until a policy it reads is pushed; a node starting
    meanwhile refuses to start rather than serve another policy."""
    policy = tmp_path / "policy.toml"
    policy.write_text(BLOCK_HIGH)
    assert _push(cluster, policy).returncode == 0
    expected = (pb.ACTION_BLOCK, "BLOCK_ANY_HIGH", _version(BLOCK_HIGH))
    wait_until(lambda: all(_decision(node) == expected for node in nodes), timeout=15,
               message="the pushed policy did not decide both nodes' verdicts")

    newer = BLOCK_HIGH.replace('min_level = "high"\n', 'min_level = "high"\nmin_velocity = 3\n')
    with WriteLog(cluster.urls).open(create=False) as log:
        PolicyBucket(log).push(newer.encode())
    wait_until(lambda: all(health(node.address) == NOT_SERVING for node in nodes), timeout=15,
               message="the nodes did not report NOT_SERVING on a policy they cannot read")
    rejected = nodes[1].wait_for_log(lambda line: line.get("event") == "cluster_policy_rejected")
    assert rejected["line"] == 5 and rejected["kept_version"] == _version(BLOCK_HIGH)
    assert all(_decision(node) == expected for node in nodes)

    init_store(tmp_path / "c", secret.fingerprint)
    started = subprocess.run(
        [str(BIN / "risklist-server"), "--db", str(tmp_path / "c"), "--secret-file", str(secret_file),
         "--insecure-dev", "--workers", "1", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
         *cluster_flags(cluster, "c", max_lag_s=MAX_LAG_S)], capture_output=True, text=True, timeout=120)
    assert started.returncode == 1
    assert "the cluster's policy (revision" in started.stderr and "cannot be read by this node" in started.stderr
    assert "min_velocity" in started.stderr

    fixed = BLOCK_HIGH.replace("BLOCK_ANY_HIGH", "BLOCK_HIGH_AGAIN")
    policy.write_text(fixed)
    assert _push(cluster, policy).returncode == 0
    wait_until(lambda: all(health(node.address) == SERVING for node in nodes), timeout=15,
               message="the nodes did not serve again once a policy they read was pushed")
    wait_until(lambda: all(_decision(node) == (pb.ACTION_BLOCK, "BLOCK_HIGH_AGAIN", _version(fixed))
                           for node in nodes), timeout=15, message="the policy pushed last did not decide")
