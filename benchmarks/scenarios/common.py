"""Helpers the serving scenarios share: request payloads, server-side status counts, CPU use."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from risklist.v1 import risklist_pb2 as pb

from benchmarks import prometheus
from benchmarks.context import Context
from benchmarks.dataset import Queries
from benchmarks.loadgen import LoadResult, Workload
from benchmarks.procstats import machine_cpu_seconds
from benchmarks.results import peer_figures
from benchmarks.server_proc import RunningServer
from risklist_kernel.enums import EntityType

SERVICE = "risklist.v1.RiskList"
Form = Literal["digest", "raw"]
MAX_PAYLOADS = 2000


def subject(queries: Queries, index: int, form: Form) -> pb.Subject:
    """Query `index` as a Subject: its client-side digest, or its raw value."""
    type_name, raw = queries.values[index]
    entity_type = int(EntityType.from_feed_name(type_name))
    if form == "digest":
        return pb.Subject(type=entity_type, digest=queries.keys[index][1:])
    return pb.Subject(type=entity_type, value=raw)


def batch_payloads(queries: Queries, size: int, form: Form, limit: int = MAX_PAYLOADS) -> list[bytes]:
    """Serialized BatchCheckRequests of `size` consecutive queries (up to `limit` of them)."""
    payloads = []
    for start in range(0, len(queries) - size + 1, size):
        request = pb.BatchCheckRequest(subjects=[subject(queries, i, form) for i in range(start, start + size)])
        payloads.append(request.SerializeToString())
        if len(payloads) == limit:
            break
    return payloads


def key_batches(keys: Sequence[bytes], size: int, limit: int = MAX_PAYLOADS) -> list[list[bytes]]:
    """The same batches as storage keys, for the Redis peer."""
    return [list(keys[start : start + size]) for start in range(0, len(keys) - size + 1, size)][:limit]


@dataclass(frozen=True, slots=True)
class RedisPeer:
    """A Redis workload's client-side result and the cores redis-server used meanwhile."""

    result: LoadResult
    server_cores: float

    def figures(self) -> dict[str, object]:
        """The peer's entry for ScenarioResult.peers (keys/s, latency per call, calls/s, cores)."""
        per_core = round(self.result.keys_per_s / self.server_cores) if self.server_cores > 0 else None
        return peer_figures(self.result.keys_per_s, "keys/s", self.result.latency, calls_per_s=self.result.ops_per_s,
                            server_cores_used=round(self.server_cores, 2), keys_per_server_core_s=per_core,
                            client_cpu_s=round(self.result.client_cpu_s, 2))


def measure_redis(ctx: Context, key: str, work: Workload) -> RedisPeer:
    """Run a Redis workload once per run (memoised under `key`), sampling redis-server's CPU."""
    assert ctx.redis is not None
    redis = ctx.redis

    def measure() -> RedisPeer:
        redis.sampler.sample()
        before = redis.sampler.cpu_seconds()
        started = time.perf_counter()
        result = ctx.load(work)
        elapsed = time.perf_counter() - started
        redis.sampler.sample()
        # CPU over the whole call (warm-up included), as a share of its wall time.
        return RedisPeer(result, (redis.sampler.cpu_seconds() - before) / elapsed if elapsed else 0.0)

    peer: RedisPeer = ctx.memoised(key, measure)
    return peer


def redis_get_peer(ctx: Context) -> RedisPeer | None:
    """redis-py GET of the query stream's keys one at a time (measured once per run)."""
    if ctx.redis is None:
        return None
    return measure_redis(ctx, "redis_get", Workload("redis_get", ctx.redis.address, keys_per_op=1,
                                                    payloads=ctx.queries.keys))


@dataclass
class ServerWindow:
    """What the server did during one measurement: gRPC statuses by code, CPU seconds and cores used."""

    statuses: dict[str, int] | None = None
    cpu_s: float = 0.0
    seconds: float = 0.0
    peak_rss_mib: float = 0.0
    processes: int = 0
    cores_by_process: list[float] = field(default_factory=list)
    metrics_error: str | None = None
    machine_cores_busy: float = 0.0

    def per_server_core(self, ops: float) -> float | None:
        """Throughput per core the server used: steadier than throughput when neighbours take CPU."""
        cores = self.cpu_s / self.seconds if self.seconds else 0.0
        return round(ops / cores) if cores > 0 else None

    def as_dict(self) -> dict[str, object]:
        non_ok = None if self.statuses is None else sum(n for code, n in self.statuses.items() if code != "OK")
        return {"grpc_status": self.statuses, "non_ok": non_ok, "server_cpu_s": round(self.cpu_s, 2),
                "server_cores_used": round(self.cpu_s / self.seconds, 2) if self.seconds else None,
                "server_peak_rss_mib": self.peak_rss_mib, "server_processes": self.processes,
                "server_cores_by_process": self.cores_by_process, "metrics_error": self.metrics_error,
                "machine_cores_busy": round(self.machine_cores_busy, 2),
                "others_cores_busy": round(self.machine_cores_busy - self.cpu_s / self.seconds, 2) if self.seconds
                else None}


def _handled(server: RunningServer, method: str) -> dict[str, float] | None:
    """Handled RPCs of `method` by status code, or None without a (working) metrics endpoint."""
    if server.metrics_port is None:
        return None
    try:
        return prometheus.handled_by_code(prometheus.fetch(server.metrics_port), method)
    except (OSError, ValueError) as error:
        server.metrics_error = f"{type(error).__name__}: {error}"
        return None


@contextmanager
def server_window(server: RunningServer, method: str) -> Iterator[ServerWindow]:
    """Measure the server around a block: status counts from /metrics, CPU from /proc."""
    window = ServerWindow()
    server.metrics_error = None
    before = _handled(server, method)
    machine_before = machine_cpu_seconds()
    server.sampler.sample()
    cpu_before = server.sampler.cpu_by_process()
    started = time.perf_counter()
    yield window
    window.seconds = time.perf_counter() - started
    machine_after = machine_cpu_seconds()
    window.machine_cores_busy = (machine_after[0] - machine_before[0]) / window.seconds
    server.sampler.sample()
    cpu_after = server.sampler.cpu_by_process()
    deltas = [cpu - cpu_before.get(pid, 0.0) for pid, cpu in sorted(cpu_after.items())]
    window.cpu_s = sum(deltas)
    window.cores_by_process = [round(delta / window.seconds, 2) for delta in deltas]
    after = _handled(server, method)
    if before is not None and after is not None:
        window.statuses = prometheus.code_delta(before, after)
        if "OK" not in after:
            server.metrics_error = f"/metrics counted no OK {method} calls: only failures are counted"
    window.metrics_error = server.metrics_error
    summary = server.sampler.summary()
    window.peak_rss_mib = float(summary["peak_rss_mib"])  # type: ignore[arg-type]
    window.processes = len(summary["processes"])  # type: ignore[arg-type]
