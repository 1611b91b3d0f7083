"""Talking to risklist-server nodes started with --cluster (tests/server/cluster): their flags, health and lists."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_server.process.launch import LaunchedServer
from tests.support.waiting import wait_until
from tools.local_nats import NatsCluster

BATCH = 500


def cluster_flags(cluster: NatsCluster, node_id: str, *, max_lag_s: float) -> tuple[str, ...]:
    """A node of `cluster` named `node_id` (a log small enough for the test servers' JetStream)."""
    return ("--cluster", ",".join(cluster.urls), "--node-id", node_id, "--max-lag", str(max_lag_s),
            "--log-max-bytes", "64M")


def health(address: str) -> int | None:
    """The health status the server at `address` reports for the whole server; None if it does not answer."""
    stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(address))
    try:
        return int(stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status)
    except grpc.RpcError:
        return None


def serving(address: str) -> bool:
    return health(address) == health_pb2.HealthCheckResponse.SERVING


def phone(number: int) -> pb.Subject:
    """A valid CN mobile number of its own for each `number` below 10**8."""
    return pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=f"+86 139{number:08d}")


def unlisted(address: str, numbers: list[int]) -> list[int]:
    """Which of `numbers` (as phone()) the node at `address` does not list."""
    stub = pb_grpc.RiskListStub(grpc.insecure_channel(address))
    missing: list[int] = []
    for start in range(0, len(numbers), BATCH):
        chunk = numbers[start : start + BATCH]
        answer = stub.BatchCheck(pb.BatchCheckRequest(subjects=[phone(number) for number in chunk]), timeout=30)
        listed = {hit.index for hit in answer.hits if hit.verdict.listed}
        missing += [number for index, number in enumerate(chunk) if index not in listed]
    return missing


def cluster_story(nodes: Sequence[LaunchedServer], numbers: list[int]) -> str:
    """For a failed test: how many of `numbers` each node lacks, and its log but the per-call lines."""
    lines = []
    for node in nodes:
        lines.append(f"node {node.address}: lacks {len(unlisted(node.address, numbers))} of {len(numbers)}")
        lines += [f"    {json.dumps(line)[:300]}" for line in node.log_lines if line.get("event") != "rpc"]
    return "\n".join(lines)


def wait_for_nodes(nodes: Sequence[LaunchedServer], condition: Callable[[], object], *, timeout: float, message: str,
                   numbers: list[int] | None = None) -> None:
    """wait_until, failing with each node's story (cluster_story) besides `message`."""
    try:
        wait_until(condition, timeout=timeout, message=message)
    except AssertionError as failed:
        raise AssertionError(f"{failed}\n{cluster_story(nodes, numbers or [])}") from None
