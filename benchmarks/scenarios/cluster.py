"""Scenario: cluster mode (issue 14, item 9) against a node alone, in the same run, on the same machine.

Three nats-servers (JetStream, clustered on loopback: tools/local_nats.py) and three nodes of one worker each, all
on empty stores; the peer is one node alone (one worker, empty store). Measured:

- **Report**: closed loop, the harness's client processes and threads sending Reports of distinct subjects to
  one node: Reports/s and acknowledgement latency, cluster against alone.
- **Replication lag**: Reports sent open loop at a steady rate to node 1; for one in SAMPLE_EVERY, the time
  from its acknowledgement until both other nodes list it (each polled with one BatchCheck of every pending
  sample every POLL_S, so the figure is up to POLL_S late). Target p99 <= 250 ms at 1,000 writes/s.
- **Load**: `risklist-load --server` of the live-load feed through node 1's admin address, against alone.

- **Reads per node**: Check and BatchCheck of READ_BATCH digests (the harness's queries, mostly misses) from the
  harness's client pool against node 2 (a follower, holding the live feed through the log) and against the node
  alone (holding it loaded directly): keys/s, latency and keys per server core-second (CPU of the node's process
  from /proc), the last being the figure the issue compares ("no worse than single-node mode per core").

Every write phase also says where its CPU went (benchmarks/cpu_meter.py): per write (per row for loads), the nodes,
the nats-servers and the rest of the machine (load generators, the harness), and the cores the machine would need
at the issue's target rate at that cost; the node alone's figures are beside them.

Rejoining from a checkpoint is measured by benchmarks/cluster_rejoin.py.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from benchmarks.context import Context
from benchmarks.cpu_meter import CpuMeter
from benchmarks.loadgen import Workload
from benchmarks.results import ScenarioResult, latency_dict, peer_figures
from benchmarks.scenarios.bulk_load import run_loader
from benchmarks.scenarios.common import SERVICE, batch_payloads, server_window, subject
from benchmarks.scenarios.live_load import live_feed
from benchmarks.server_proc import RunningServer, start_server
from benchmarks.stats import Latency, ratio, summarise_ms
from tools.local_nats import NatsCluster

NODES = 3
REPORT_METHOD = "/risklist.v1.RiskList/Report"
READ_BATCH = 100
CHECK_PAYLOADS = 20_000
REPORT_SUBJECTS = 200_000
LAG_RATE = 1000.0
LOAD_TARGET = 100_000
"""rows/s through the cluster that issue 14 asks of `risklist-load --server`."""
"""Reports per second, open loop, for the replication lag."""
LAG_SENDERS = 16
SAMPLE_EVERY = 10
POLL_S = 0.005
LAG_SOURCE = "bench-cluster"


def _phone(number: int) -> pb.Subject:
    return pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=f"+86 139{number:08d}")


def _report(number: int) -> pb.ReportRequest:
    return pb.ReportRequest(reports=[pb.Report(subject=_phone(number), category=pb.CATEGORY_MONEY_MULE,
                                               level=pb.RISK_LEVEL_HIGH)])


@contextmanager
def _cluster(ctx: Context) -> Iterator[tuple[list[RunningServer], list[int]]]:
    """Three nats-servers and three nodes; (the nodes, the nats-servers' process ids)."""
    root = ctx.workdir / f"cluster-{ctx.run}"
    shutil.rmtree(root, ignore_errors=True)
    nats = NatsCluster.create(root / "nats")
    nodes: list[RunningServer] = []
    try:
        nats.start()
        for number in range(1, NODES + 1):
            nodes.append(start_server(root / f"node-{number}", ctx.dataset.secret_file, workers=1, extra=(
                "--cluster", ",".join(nats.urls), "--node-id", f"node-{number}", "--log-max-bytes", "1G")))
        yield nodes, [process.pid for process in nats.started]
    finally:
        for node in nodes:
            node.stop()
        nats.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _alone(ctx: Context) -> Iterator[RunningServer]:
    root = ctx.workdir / f"alone-{ctx.run}"
    shutil.rmtree(root, ignore_errors=True)
    server = start_server(root / "db", ctx.dataset.secret_file, workers=1)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _reports(ctx: Context, address: str, offset: int) -> tuple[float, Latency, int]:
    """Closed-loop Reports to `address`: Reports/s, latency, errors."""
    payloads = [_report(offset + number).SerializeToString() for number in range(REPORT_SUBJECTS)]
    settings = ctx.settings
    result = ctx.clients.run(Workload("grpc_unary", address, 1, payloads=payloads, method=REPORT_METHOD),
                             threads=settings.client_threads, duration=settings.duration, warmup=settings.warmup)
    return result.ops_per_s, result.latency, result.errors


@dataclass
class LagRun:
    sent: int
    seconds: float
    lags_ms: list[float]
    unseen: int
    errors: int


def _replication_lag(nodes: list[RunningServer], seconds: float, offset: int) -> LagRun:
    """Reports at LAG_RATE to nodes[0] for `seconds`; the lag of every SAMPLE_EVERY-th to both other nodes."""
    pending: dict[int, float] = {}
    seen: dict[int, list[float]] = {}
    lock = threading.Lock()
    samples: queue.SimpleQueue[int] = queue.SimpleQueue()
    stop = threading.Event()
    errors = [0]
    start = time.monotonic() + 0.5
    total = int(seconds * LAG_RATE)
    tickets = iter(range(total))

    def send() -> None:
        stub = pb_grpc.RiskListStub(grpc.insecure_channel(nodes[0].address))
        while True:
            with lock:
                ticket = next(tickets, None)
            if ticket is None:
                return
            time.sleep(max(0.0, start + ticket / LAG_RATE - time.monotonic()))
            try:
                stub.Report(_report(offset + ticket), timeout=10)
            except grpc.RpcError:
                with lock:
                    errors[0] += 1
                continue
            if ticket % SAMPLE_EVERY == 0:
                with lock:
                    pending[ticket] = time.monotonic()
                samples.put(ticket)

    def poll(node: RunningServer) -> None:
        stub = pb_grpc.RiskListStub(grpc.insecure_channel(node.address))
        waiting: list[int] = []
        while not (stop.is_set() and not waiting):
            while not samples_for[node.address].empty():
                waiting.append(samples_for[node.address].get())
            if waiting:
                answer = stub.BatchCheck(pb.BatchCheckRequest(subjects=[_phone(offset + t) for t in waiting]),
                                         timeout=10)
                now = time.monotonic()
                listed = {waiting[hit.index] for hit in answer.hits if hit.verdict.listed}
                with lock:
                    for ticket in listed:
                        seen.setdefault(ticket, []).append(now - pending[ticket])
                waiting = [ticket for ticket in waiting if ticket not in listed]
            time.sleep(POLL_S)

    followers = nodes[1:]
    samples_for = {node.address: queue.SimpleQueue[int]() for node in followers}

    def fan_out() -> None:
        while not (stop.is_set() and samples.empty()):
            try:
                ticket = samples.get(timeout=0.1)
            except queue.Empty:
                continue
            for node in followers:
                samples_for[node.address].put(ticket)

    senders = [threading.Thread(target=send) for _ in range(LAG_SENDERS)]
    pollers = [threading.Thread(target=poll, args=(node,)) for node in followers] + [threading.Thread(target=fan_out)]
    for thread in senders + pollers:
        thread.start()
    for thread in senders:
        thread.join()
    elapsed = time.monotonic() - start
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if all(len(seen.get(ticket, [])) == len(followers) for ticket in pending):
                break
        time.sleep(0.05)
    stop.set()
    for thread in pollers:
        thread.join(timeout=40)
    with lock:
        complete = [max(lags) * 1000 for ticket, lags in seen.items() if len(lags) == len(followers)]
        return LagRun(total - errors[0], elapsed, complete, len(pending) - len(complete), errors[0])


@dataclass
class ReadRun:
    keys_per_s: float
    latency: Latency
    per_core: float | None
    errors: int


def _reads(ctx: Context, server: RunningServer) -> dict[str, ReadRun]:
    """Check and BatchCheck-READ_BATCH of the harness's queries (by digest) against `server`, by name."""
    queries = ctx.queries
    checks = [pb.CheckRequest(subject=subject(queries, index, "digest")).SerializeToString()
              for index in range(min(len(queries), CHECK_PAYLOADS))]
    runs: dict[str, ReadRun] = {}
    for name, method, payloads, size in (("check", "Check", checks, 1),
                                         (f"batch_check_{READ_BATCH}", "BatchCheck",
                                          batch_payloads(queries, READ_BATCH, "digest"), READ_BATCH)):
        work = Workload("grpc_unary", server.address, keys_per_op=size, payloads=payloads,
                        method=f"/{SERVICE}/{method}")
        with server_window(server, method) as window:
            measured = ctx.load(work)
        runs[name] = ReadRun(measured.keys_per_s, measured.latency, window.per_server_core(measured.keys_per_s),
                             measured.errors)
    return runs


def _cost(meter: CpuMeter, per_second: float) -> dict[str, object]:
    """CPU per write of each group (from the cores each kept busy at `per_second` writes/s), and the cores the
    whole machine would need at the target rate at that cost."""
    if not per_second or not meter.wall_seconds:
        return {}
    per_write = meter.cpu_ms_per(per_second * meter.wall_seconds)
    return {"cpu_ms_per_write": per_write, "cores_busy": round(meter.cores(), 2),
            "cores_needed_at_target": round(per_write["machine"] * LAG_RATE / 1000, 2)}


def _load_cost(meter: CpuMeter, rows: int) -> dict[str, object]:
    """CPU per row of each group, and the cores the machine would need for LOAD_TARGET rows/s at that cost."""
    if not rows:
        return {}
    per_row_us = {name: round(ms * 1000, 2) for name, ms in meter.cpu_ms_per(rows).items()}
    return {"cpu_us_per_row": per_row_us, "cores_busy": round(meter.cores(), 2),
            "cores_needed_at_target": round(per_row_us["machine"] * LOAD_TARGET / 1e6, 2)}


def run(ctx: Context) -> list[ScenarioResult]:
    settings = ctx.settings
    feed = live_feed(ctx)
    with _alone(ctx) as alone:
        with CpuMeter({"nodes": [alone.sampler]}, {}) as alone_report_cpu:
            alone_reports, alone_latency, alone_errors = _reports(ctx, alone.address, 0)
        with CpuMeter({"nodes": [alone.sampler]}, {}) as alone_load_cpu:
            alone_load = run_loader(feed, ctx.dataset.secret_file, "--server", alone.admin_address, "--insecure")
        alone_reads = _reads(ctx, alone)
    with _cluster(ctx) as (nodes, nats_pids):
        samplers = {"nodes": [node.sampler for node in nodes]}
        with CpuMeter(samplers, {"nats": nats_pids}) as report_cpu:
            cluster_reports, cluster_latency, cluster_errors = _reports(ctx, nodes[0].address, 0)
        with CpuMeter(samplers, {"nats": nats_pids}) as lag_cpu:
            lag = _replication_lag(nodes, settings.duration, REPORT_SUBJECTS)
        with CpuMeter(samplers, {"nats": nats_pids}) as load_cpu:
            cluster_load = run_loader(feed, ctx.dataset.secret_file, "--server", nodes[0].admin_address,
                                      "--insecure")
        node_reads = _reads(ctx, nodes[1])
    params = {"nodes": NODES, "nats_servers": NODES, "workers_per_node": 1, "client_processes":
              settings.client_processes, "client_threads": settings.client_threads}
    lag_summary = summarise_ms(lag.lags_ms) if lag.lags_ms else None
    return [
        ScenarioResult("cluster_report", "cluster", params, cluster_reports, "Reports/s", latency_dict(cluster_latency),
                       peers={"node alone": peer_figures(alone_reports, "Reports/s", alone_latency,
                                                         errors=alone_errors)},
                       ratio={"node alone": ratio(cluster_reports, alone_reports)},
                       extra={"errors": cluster_errors, "cost": _cost(report_cpu, cluster_reports),
                              "cost_alone": _cost(alone_report_cpu, alone_reports)}),
        ScenarioResult("cluster_replication_lag", "cluster",
                       {**params, "rate_per_s": LAG_RATE, "sample_every": SAMPLE_EVERY, "poll_ms": POLL_S * 1000},
                       lag.sent / lag.seconds if lag.seconds else 0.0, "Reports/s achieved",
                       latency_dict(lag_summary) if lag_summary else None,
                       extra={"samples": len(lag.lags_ms), "unseen": lag.unseen, "errors": lag.errors,
                              "cost": _cost(lag_cpu, lag.sent / lag.seconds if lag.seconds else 0.0)}),
        ScenarioResult("cluster_load", "cluster", {**params, "rows": cluster_load.rows}, cluster_load.rows_per_s,
                       "rows/s", peers={"node alone": peer_figures(alone_load.rows_per_s, "rows/s")},
                       ratio={"node alone": ratio(cluster_load.rows_per_s, alone_load.rows_per_s)},
                       extra={"loader_cpu_s": cluster_load.cpu_seconds, "cost": _load_cost(load_cpu, cluster_load.rows),
                              "cost_alone": _load_cost(alone_load_cpu, alone_load.rows)}),
        *(_read_result(name, node_reads[name], alone_reads[name], params) for name in node_reads),
    ]


def _read_result(name: str, node: ReadRun, alone: ReadRun, params: dict[str, object]) -> ScenarioResult:
    per_core = ratio(node.per_core, alone.per_core) if node.per_core and alone.per_core else None
    return ScenarioResult(f"cluster_{name}", "cluster", {**params, "node": "node-2 (a follower)"}, node.keys_per_s,
                          "keys/s", latency_dict(node.latency),
                          peers={"node alone": peer_figures(alone.keys_per_s, "keys/s", alone.latency,
                                                            keys_per_server_core_s=alone.per_core)},
                          ratio={"node alone": ratio(node.keys_per_s, alone.keys_per_s)},
                          extra={"keys_per_server_core_s": node.per_core, "per_core_ratio": per_core,
                                 "errors": node.errors})
