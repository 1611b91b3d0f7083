"""Scenario 1: single-key Check from h2load, closed loop and open loop, 1 and 2 workers; Redis GET peer."""

from __future__ import annotations

import contextlib
from pathlib import Path

from risklist.v1 import risklist_pb2 as pb

from benchmarks import h2load
from benchmarks.context import Context
from benchmarks.grpc_frames import encode_frame
from benchmarks.results import ScenarioResult, latency_dict
from benchmarks.scenarios.common import SERVICE, redis_get_peer, server_window, subject
from benchmarks.server_proc import RunningServer
from benchmarks.stats import ratio

METHOD = "Check"


def bodies(ctx: Context, directory: Path) -> tuple[list[Path], Path]:
    """Request body files: misses of distinct entity types (raw values), and one listed subject."""
    directory.mkdir(parents=True, exist_ok=True)
    queries, chosen, seen_types = ctx.queries, [], set()
    for index, hit in enumerate(queries.hits):
        type_name = queries.values[index][0]
        if not hit and type_name not in seen_types:
            seen_types.add(type_name)
            chosen.append(index)
        if len(chosen) == ctx.settings.check_bodies:
            break
    misses = []
    for number, index in enumerate(chosen):
        path = directory / f"check-miss-{number}.bin"
        path.write_bytes(encode_frame(pb.CheckRequest(subject=subject(queries, index, "raw"))))
        misses.append(path)
    hit_path = directory / "check-hit.bin"
    hit_index = queries.hits.index(True)
    hit_path.write_bytes(encode_frame(pb.CheckRequest(subject=subject(queries, hit_index, "raw"))))
    return misses, hit_path


def _measure(ctx: Context, server: RunningServer, jobs: list[h2load.Job], name: str, workers: int,
             params: dict[str, object]) -> ScenarioResult:
    url = f"http://127.0.0.1:{server.port}/{SERVICE}/{METHOD}"
    with server_window(server, METHOD) as window:
        result = h2load.run(url, jobs, duration=ctx.settings.duration, warmup=ctx.settings.warmup,
                            workdir=ctx.workdir / "h2load")
    extra = {**window.as_dict(), "h2load_failed": result.failed, "requests": result.requests,
             "h2load_processes": len(jobs), "h2load_cores_used": round(result.cpu_s / window.seconds, 2),
             "rpc_per_server_core_s": window.per_server_core(result.rps)}
    return ScenarioResult(name, "check", {"workers": workers, **params}, result.rps, "rpc/s",
                          latency_dict(result.latency), extra=extra)


def _open_jobs(misses: list[Path], hit: Path, rate: float) -> list[h2load.Job]:
    """Open loop at `rate` RPC/s in all: 99% spread over the miss bodies, 1% the listed body."""
    per_body_connections = 2
    miss_rate = rate * 0.99 / (len(misses) * per_body_connections)
    jobs = [h2load.Job(body, per_body_connections, 16, max(miss_rate, 1.0)) for body in misses]
    jobs.append(h2load.Job(hit, 1, 16, max(rate * 0.01, 1.0)))
    return jobs


def run(ctx: Context) -> list[ScenarioResult]:
    """Closed loop at each level, then open loop at fractions of each worker count's peak.

    A server per worker count runs the whole time and measurements alternate between them
    (level by level), so a neighbour's burst of CPU use hits both worker counts alike.
    """
    if not h2load.available():
        ctx.note("h2load is not installed (benchmarks/install_tools.sh): Check scenarios skipped")
        return []
    settings = ctx.settings
    misses, hit = bodies(ctx, ctx.workdir / "bodies")
    results: list[ScenarioResult] = []
    closed: dict[int, list[ScenarioResult]] = {}
    with contextlib.ExitStack() as stack:
        servers = {workers: stack.enter_context(ctx.server(workers)) for workers in ctx.worker_counts()}
        for connections, streams in settings.check_levels:
            jobs = [h2load.Job(body, connections, streams) for body in misses]
            concurrency = connections * streams * len(misses)
            for workers, server in servers.items():
                closed.setdefault(workers, []).append(_measure(
                    ctx, server, jobs, f"check.w{workers}.closed.c{concurrency}", workers,
                    {"loop": "closed", "concurrency": concurrency, "connections": connections * len(misses),
                     "hits": 0.0}))
        peaks = {workers: max(measured, key=lambda result: result.ops_per_s) for workers, measured in closed.items()}
        for workers in servers:
            results.extend(closed[workers])
        for fraction in settings.open_fractions:
            for workers, server in servers.items():
                rate = fraction * peaks[workers].ops_per_s
                result = _measure(ctx, server, _open_jobs(misses, hit, rate),
                                  f"check.w{workers}.open{round(fraction * 100)}", workers,
                                  {"loop": "open", "fraction_of_peak": fraction, "hits": 0.01})
                result.extra["target_rps"] = round(rate)
                result.ratio["achieved / target rate"] = ratio(result.ops_per_s, rate)
                results.append(result)
    results.sort(key=lambda result: (int(result.params["workers"]), result.params["loop"] == "open"))
    redis_get = redis_get_peer(ctx)
    best_workers = max(peaks)
    best = peaks[best_workers]
    summary = ScenarioResult("check.peak", "check", {"workers": best_workers, "loop": "closed"},
                             best.ops_per_s, "rpc/s", best.latency_ms,
                             extra={**{f"peak_rpc_s_w{workers}": peak.ops_per_s for workers, peak in peaks.items()},
                                    "concurrency": best.params["concurrency"]})
    if len(peaks) > 1:
        summary.ratio["2 workers / 1 worker"] = ratio(peaks[max(peaks)].ops_per_s, peaks[min(peaks)].ops_per_s)
        per_core = {workers: peak.extra.get("rpc_per_server_core_s") for workers, peak in peaks.items()}
        low, high = per_core[min(peaks)], per_core[max(peaks)]
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            summary.ratio["per server core, 2 workers / 1 worker"] = ratio(high, low)
    if redis_get is not None:
        summary.peers["redis_get"] = {**redis_get.figures(), "unit": "ops/s",
                                      "clients": ctx.clients.processes * ctx.settings.client_threads}
        summary.ratio["vs redis GET"] = ratio(best.ops_per_s, redis_get.result.ops_per_s)
    results.append(summary)
    return results
