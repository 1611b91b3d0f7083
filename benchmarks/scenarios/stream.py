"""Scenario 3: StreamCheck, long-lived streams with a few messages in flight; Redis GET/pipeline peers."""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.loadgen import Workload
from benchmarks.results import ScenarioResult, latency_dict
from benchmarks.scenarios.batch import add_peers
from benchmarks.scenarios.common import SERVICE, batch_payloads, redis_get_peer, server_window
from benchmarks.stats import ratio

METHOD = "StreamCheck"


def run(ctx: Context) -> list[ScenarioResult]:
    """keys/s and per-message latency (send to answer) of StreamCheck with digests."""
    results: list[ScenarioResult] = []
    with ctx.server(ctx.serving_workers()) as server:
        for size in ctx.settings.stream_sizes:
            payloads = batch_payloads(ctx.queries, size, "digest")
            work = Workload("grpc_stream", server.address, keys_per_op=size, payloads=payloads,
                            method=f"/{SERVICE}/{METHOD}", depth=ctx.settings.stream_depth)
            with server_window(server, METHOD) as window:
                measured = ctx.load(work)
            result = ScenarioResult(
                f"stream.digest.{size}", "stream",
                {"subjects_per_message": size, "depth": ctx.settings.stream_depth, "workers": server.workers,
                 "streams": ctx.clients.processes * ctx.settings.client_threads},
                measured.keys_per_s, "keys/s", latency_dict(measured.latency),
                extra={**window.as_dict(), "messages_per_s": measured.ops_per_s, "client_errors": measured.errors,
                       "client_cores_used": round(measured.client_cpu_s / window.seconds, 2),
                       "keys_per_server_core_s": window.per_server_core(measured.keys_per_s)})
            peer = redis_get_peer(ctx) if size == 1 else None
            if peer is not None:
                result.peers["redis_get"] = peer.figures()
                result.ratio["vs redis GET"] = ratio(result.ops_per_s, peer.result.keys_per_s)
            elif size > 1:
                add_peers(ctx, result, size)
            results.append(result)
    return results
