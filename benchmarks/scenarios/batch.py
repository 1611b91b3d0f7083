"""Scenario 2: BatchCheck at each batch size, digests and raw values; Redis MGET and pipelined GET peers."""

from __future__ import annotations

import grpc
from risklist.v1 import risklist_pb2 as pb

from benchmarks.context import Context
from benchmarks.loadgen import Kind, Workload
from benchmarks.results import ScenarioResult, latency_dict, peer_figures
from benchmarks.scenarios.common import (
    SERVICE,
    Form,
    RedisPeer,
    batch_payloads,
    key_batches,
    measure_redis,
    server_window,
)
from benchmarks.server_proc import RunningServer
from benchmarks.stats import ratio

METHOD = "BatchCheck"
FORMS: tuple[Form, ...] = ("digest", "raw")


def redis_batch_peers(ctx: Context, size: int) -> dict[str, RedisPeer]:
    """Redis MGET and pipelined GET of the same key batches (measured once per run and size)."""
    if ctx.redis is None:
        return {}
    batches = key_batches(ctx.queries.keys, size)
    kinds: tuple[Kind, ...] = ("redis_mget", "redis_pipeline")
    return {kind: measure_redis(ctx, f"{kind}_{size}", Workload(kind, ctx.redis.address, keys_per_op=size,
                                                                   key_batches=batches))
            for kind in kinds}


def add_peers(ctx: Context, result: ScenarioResult, size: int) -> None:
    """Attach Redis's and the in-process ceiling's figures for batches of `size`, with ratios."""
    for kind, peer in redis_batch_peers(ctx, size).items():
        label = "MGET" if kind == "redis_mget" else "pipelined GET"
        result.peers[kind] = peer.figures()
        result.ratio[f"vs redis {label}"] = ratio(result.ops_per_s, peer.result.keys_per_s)
    ceiling = ctx.memo.get(f"run{ctx.run}:inprocess")
    if isinstance(ceiling, dict) and f"store_lookup_many_{size}" in ceiling:
        result.peers["inprocess_lookup_many"] = peer_figures(ceiling[f"store_lookup_many_{size}"], "keys/s")
        result.ratio["of in-process ceiling"] = ratio(result.ops_per_s, ceiling[f"store_lookup_many_{size}"])


def answer_check(ctx: Context, server: RunningServer, size: int, batches: int = 20) -> dict[str, int]:
    """Do both sides find the same subjects? The first batches once, answers decoded: how many
    query subjects are hits by construction, how many we answer LISTED (an expired entry is
    found but not listed), and how many keys Redis holds a value for."""
    count = min(batches * size, len(ctx.queries))
    payloads = batch_payloads(ctx.queries, size, "digest", limit=max(1, count // size))
    with grpc.insecure_channel(server.address) as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, pb.BatchCheckResponse] = channel.unary_unary(
            f"/{SERVICE}/{METHOD}", response_deserializer=pb.BatchCheckResponse.FromString)
        listed = sum(len(call(payload, timeout=30).hits) for payload in payloads)
    answers = {"queries": len(payloads) * size, "expected_hits": sum(ctx.queries.hits[: len(payloads) * size]),
               "ours_listed": listed}
    if ctx.redis is not None:
        found = 0
        for keys in key_batches(ctx.queries.keys, size, limit=len(payloads)):
            values: list[bytes | None] = ctx.redis.client.mget(keys)  # type: ignore[assignment]
            found += sum(value is not None for value in values)
        answers["redis_found"] = found
    return answers


def run(ctx: Context) -> list[ScenarioResult]:
    """keys/s and per-RPC latency of BatchCheck from the Python client pool."""
    results: list[ScenarioResult] = []
    with ctx.server(ctx.serving_workers()) as server:
        for size in ctx.settings.batch_sizes:
            for form in FORMS:
                payloads = batch_payloads(ctx.queries, size, form)
                work = Workload("grpc_unary", server.address, keys_per_op=size, payloads=payloads,
                                method=f"/{SERVICE}/{METHOD}")
                with server_window(server, METHOD) as window:
                    measured = ctx.load(work)
                result = ScenarioResult(
                    f"batch.{form}.{size}", "batch", {"batch": size, "form": form, "workers": server.workers,
                                                      "clients": ctx.clients.processes * ctx.settings.client_threads},
                    measured.keys_per_s, "keys/s", latency_dict(measured.latency),
                    extra={**window.as_dict(), "rpc_per_s": measured.ops_per_s, "client_errors": measured.errors,
                           "client_cores_used": round(measured.client_cpu_s / window.seconds, 2),
                           "keys_per_server_core_s": window.per_server_core(measured.keys_per_s)})
                add_peers(ctx, result, size)
                if form == "digest" and size == max(ctx.settings.batch_sizes):
                    result.extra["answers"] = answer_check(ctx, server, size)
                results.append(result)
    return results
