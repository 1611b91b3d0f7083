"""Scenario: the server measured with native load generators, beside the ceiling and Redis (issue 16).

h2load sends every gRPC shape (Check; BatchCheck of 10, 100 and 1000 digests and raw values; StreamCheck of
STREAM_MESSAGES messages of STREAM_SIZE digests) to our server (one worker, and two for Check and BatchCheck-1000)
and to the ceiling (benchmarks/ceiling_server.py: the same grpcio and server construction, handlers that do no
work); redis-benchmark sends GET and MGET of the same key counts to redis-server. No Python client is in the
loop. The headline is cost: server CPU-µs per key and per RPC from /proc over the measured window (ours: every
process of the server; the ceiling's; redis-server's), beside throughput, latency and the load generator's own
CPU. "of ceiling" is ours ÷ the ceiling, in RPC/s and per server core.

Then Check at half of one worker's peak, open loop, with h2load pinned to one core and the server to the other
(taskset): the latency a caller sees when neither side waits for the other's CPU; then the same load on the
ceiling, pinned alike (the tail a server doing nothing gets from this grpcio and machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks import h2load, redis_bench
from benchmarks.child import stop_child
from benchmarks.context import Context
from benchmarks.grpc_frames import encode_frame
from benchmarks.procstats import TreeSampler, descendants
from benchmarks.results import ScenarioResult, latency_dict, peer_figures
from benchmarks.scenarios import check
from benchmarks.scenarios.common import SERVICE, batch_payloads, server_window
from benchmarks.server_proc import RunningServer
from benchmarks.stats import ratio

STREAM_MESSAGES = 100
STREAM_SIZE = 10
BODIES_PER_SHAPE = 4
"""Distinct request bodies per shape, one h2load process each (Check: misses of distinct entity types)."""
STREAMS = 3
"""Concurrent StreamCheck streams: below the development member's cap of 4 (max_streams_per_member), which a
stream just ended may still hold for an instant when h2load opens the next."""
REDIS_VALUE_BYTES = 64
"""About a record's size (a contribution with a short reference)."""
PINNED_SERVER_CPU, PINNED_LOADGEN_CPU = "0", "1"
OTHER_ARRANGEMENTS = ("sync-unary", "aio")
"""Other ways of serving the ceiling, measured for Check and the largest digest batch (issue 16, item 4)."""


@dataclass(frozen=True, slots=True)
class Shape:
    """One request shape: its gRPC method, keys per RPC, h2load bodies, and connections x streams per body."""

    name: str
    method: str
    keys_per_rpc: int
    bodies: tuple[Path, ...]
    connections: int
    streams: int


def shapes(ctx: Context, directory: Path) -> list[Shape]:
    """Every shape's request bodies, written once per run into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    misses, _ = check.bodies(ctx, directory)
    found = [Shape("check", "Check", 1, tuple(misses), 2, 8)]
    for form in ("digest", "raw"):
        for size in ctx.settings.batch_sizes:
            payloads = batch_payloads(ctx.queries, size, form, limit=BODIES_PER_SHAPE)
            paths = []
            for number, payload in enumerate(payloads):
                path = directory / f"batch-{form}-{size}-{number}.bin"
                path.write_bytes(encode_frame(payload))
                paths.append(path)
            streams = 8 if size <= 100 else 2
            found.append(Shape(f"batch.{form}.{size}", "BatchCheck", size, tuple(paths), 2, streams))
    messages = batch_payloads(ctx.queries, STREAM_SIZE, "digest", limit=STREAM_MESSAGES * STREAMS)
    paths = []
    for number in range(len(messages) // STREAM_MESSAGES):
        path = directory / f"stream-{number}.bin"
        chunk = messages[number * STREAM_MESSAGES : (number + 1) * STREAM_MESSAGES]
        path.write_bytes(b"".join(encode_frame(message) for message in chunk))
        paths.append(path)
    found.append(Shape(f"stream.{STREAM_MESSAGES}x{STREAM_SIZE}", "StreamCheck", STREAM_MESSAGES * STREAM_SIZE,
                       tuple(paths), 1, 1))
    return found


@dataclass
class Ceiling:
    """A running benchmarks.ceiling_server and its CPU sampler."""

    process: subprocess.Popen[str]
    port: int
    sampler: TreeSampler

    def stop(self) -> None:
        self.sampler.stop()
        stop_child(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def ceiling_server(arrangement: str = "sync") -> Iterator[Ceiling]:
    """Start the ceiling with the server's default threads and stream slots, served the way `arrangement` says
    (benchmarks.ceiling_server); stop it on exit."""
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.ceiling_server", "--threads", "8",
                                "--max-streams", "16", "--arrangement", arrangement], stdout=subprocess.PIPE,
                               text=True, cwd=Path(__file__).resolve().parents[2])
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        process.stdout.close()
        raise RuntimeError(f"the ceiling server exited {process.returncode} before serving")
    ceiling = Ceiling(process, int(json.loads(line)["port"]), TreeSampler(process.pid).start())
    try:
        yield ceiling
    finally:
        ceiling.stop()


@dataclass(frozen=True, slots=True)
class Measured:
    """One h2load measurement of one server: h2load's result and the server's CPU over the window."""

    result: h2load.Result
    server_cpu_s: float
    seconds: float
    extra: dict[str, object]

    @property
    def rps(self) -> float:
        """Completed calls per second: h2load's (HTTP 200), less the share the server answered with another gRPC
        status than OK (h2load counts a refused call as done)."""
        statuses = self.extra.get("grpc_status")
        if isinstance(statuses, dict) and sum(statuses.values()):
            return self.result.rps * statuses.get("OK", 0) / sum(statuses.values())
        return self.result.rps

    def figures(self, keys_per_rpc: int) -> dict[str, object]:
        # The server's CPU covers h2load's warm-up too, its rate only the measured part: CPU per call is the cores
        # the server used over the window divided by the rate (the same in warm-up and measurement, closed loop).
        calls = self.rps * self.seconds
        return {
            "rpc_per_s": round(self.rps), "keys_per_s": round(self.rps * keys_per_rpc),
            "server_cpu_us_per_rpc": _micro(self.server_cpu_s, calls),
            "server_cpu_us_per_key": _micro(self.server_cpu_s, calls * keys_per_rpc),
            "server_cores_used": round(self.server_cpu_s / self.seconds, 2) if self.seconds else None,
            "loadgen_cpu_s": round(self.result.cpu_s, 2),
            "loadgen_cores_used": round(self.result.cpu_s / self.seconds, 2) if self.seconds else None,
            "h2load_failed": self.result.failed, **self.extra,
        }


def _micro(cpu_s: float, count: float) -> float | None:
    return round(cpu_s * 1e6 / count, 2) if count else None


def _jobs(shape: Shape) -> list[h2load.Job]:
    return [h2load.Job(body, shape.connections, shape.streams) for body in shape.bodies]


def measure_ours(ctx: Context, server: RunningServer, shape: Shape, jobs: list[h2load.Job],
                 cpus: str | None = None) -> Measured:
    url = f"http://127.0.0.1:{server.port}/{SERVICE}/{shape.method}"
    with server_window(server, shape.method) as window:
        result = h2load.run(url, jobs, duration=ctx.settings.duration, warmup=ctx.settings.warmup,
                            workdir=ctx.workdir / "h2load", cpus=cpus)
    return Measured(result, window.cpu_s, window.seconds,
                    {"grpc_status": window.statuses, "non_ok": window.as_dict()["non_ok"]})


def measure_ceiling(ctx: Context, ceiling: Ceiling, shape: Shape, jobs: list[h2load.Job] | None = None,
                    cpus: str | None = None) -> Measured:
    url = f"http://127.0.0.1:{ceiling.port}/{SERVICE}/{shape.method}"
    ceiling.sampler.sample()
    before, started = ceiling.sampler.cpu_seconds(), time.perf_counter()
    result = h2load.run(url, _jobs(shape) if jobs is None else jobs, duration=ctx.settings.duration,
                        warmup=ctx.settings.warmup, workdir=ctx.workdir / "h2load", cpus=cpus)
    seconds = time.perf_counter() - started
    ceiling.sampler.sample()
    return Measured(result, ceiling.sampler.cpu_seconds() - before, seconds, {})


def measure_redis(ctx: Context, keys_per_request: int, clients: int) -> dict[str, object] | None:
    """redis-benchmark GET (1) or MGET (k) for the run's duration, with redis-server's CPU; once per run and k."""
    if ctx.redis is None or not redis_bench.available():
        return None
    redis = ctx.redis

    def measure() -> dict[str, object]:
        if "redis_bench_keys" not in ctx.memo:
            redis_bench.load_numbered_keys(redis.port, ctx.dataset.entries, REDIS_VALUE_BYTES)
            ctx.memo["redis_bench_keys"] = ctx.dataset.entries
        redis.sampler.sample()
        before = redis.sampler.cpu_seconds()
        probe, bench = redis_bench.run_for(redis.port, keys_per_request, seconds=ctx.settings.duration,
                                           clients=clients, keyspace=100 * ctx.dataset.entries)
        redis.sampler.sample()
        calls = probe.requests + bench.requests  # the probe ran inside the CPU window too
        cpu = redis.sampler.cpu_seconds() - before
        return {"ops_per_s": round(bench.keys_per_s), "unit": "keys/s", "calls_per_s": round(bench.requests_per_s),
                "latency_ms": {"p50": bench.p50_ms, "p99": bench.p99_ms}, "clients": clients,
                "server_cpu_us_per_key": _micro(cpu, calls * keys_per_request),
                "server_cpu_us_per_call": _micro(cpu, calls),
                "loadgen_cpu_s": round(probe.client_cpu_s + bench.client_cpu_s, 2),
                "tool": "redis-benchmark " + ("GET" if keys_per_request == 1 else f"MGET {keys_per_request}")}

    figures: dict[str, object] = ctx.memoised(f"redis_bench_{keys_per_request}", measure)
    return figures


def _result(name: str, shape: Shape, workers: int, ours: Measured, ceiling: Measured | None,
            redis: dict[str, object] | None) -> ScenarioResult:
    figures = ours.figures(shape.keys_per_rpc)
    result = ScenarioResult(name, "native", {"method": shape.method, "keys_per_rpc": shape.keys_per_rpc,
                                             "workers": workers, "loadgen": "h2load",
                                             "concurrency": shape.connections * shape.streams * len(shape.bodies)},
                            ours.rps * shape.keys_per_rpc, "keys/s", latency_dict(ours.result.latency),
                            extra=figures)
    if ceiling is not None:
        ceiling_figures = ceiling.figures(shape.keys_per_rpc)
        result.peers["ceiling"] = peer_figures(ceiling.rps * shape.keys_per_rpc, "keys/s",
                                               ceiling.result.latency, **ceiling_figures)
        result.ratio["of ceiling (RPC/s)"] = ratio(ours.rps, ceiling.rps)
        ours_cost, ceiling_cost = figures["server_cpu_us_per_rpc"], ceiling_figures["server_cpu_us_per_rpc"]
        if isinstance(ours_cost, float) and isinstance(ceiling_cost, float) and ours_cost > 0:
            result.ratio["of ceiling (per server core)"] = ratio(ceiling_cost, ours_cost)
    if redis is not None:
        result.peers["redis_benchmark"] = redis
        redis_rate = redis.get("ops_per_s")
        if isinstance(redis_rate, (int, float)):
            result.ratio["vs redis-benchmark (keys/s)"] = ratio(result.ops_per_s, float(redis_rate))
        redis_cost, ours_cost = redis.get("server_cpu_us_per_key"), figures["server_cpu_us_per_key"]
        if isinstance(redis_cost, float) and isinstance(ours_cost, float) and ours_cost > 0:
            result.ratio["redis CPU per key / ours"] = ratio(redis_cost, ours_cost)
    return result


def pin_tree(root: int, cpus: str) -> None:
    """Pin every thread of process `root` and of its descendants to `cpus` (taskset -a -p)."""
    for pid in descendants(root):
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True, check=False)


def _pin(server: RunningServer | Ceiling, cpus: str) -> None:
    """Pin every thread of every process of the server to `cpus`."""
    pin_tree(server.process.pid, cpus)


@contextmanager
def _pinned(server: RunningServer | Ceiling) -> Iterator[None]:
    """Every thread of the server on PINNED_SERVER_CPU for the block, then on every CPU again."""
    _pin(server, PINNED_SERVER_CPU)
    try:
        yield
    finally:
        _pin(server, ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0))))


def run(ctx: Context) -> list[ScenarioResult]:
    """Every shape against ours (1 worker; 2 for Check and BatchCheck-1000), the ceiling and Redis."""
    if not h2load.available():
        ctx.note("h2load is not installed (benchmarks/install_tools.sh): native scenarios skipped")
        return []
    results: list[ScenarioResult] = []
    all_shapes = shapes(ctx, ctx.workdir / "native-bodies")
    biggest = f"batch.digest.{max(ctx.settings.batch_sizes)}"
    with ceiling_server() as ceiling, ctx.server(1) as one:
        peak: Measured | None = None
        for shape in all_shapes:
            ours = measure_ours(ctx, one, shape, _jobs(shape))
            ceiling_measured = measure_ceiling(ctx, ceiling, shape)
            redis = (measure_redis(ctx, shape.keys_per_rpc, shape.connections * shape.streams * len(shape.bodies))
                     if shape.method != "StreamCheck" else None)
            results.append(_result(f"native.{shape.name}.w1", shape, 1, ours, ceiling_measured, redis))
            if shape.name == "check":
                peak = ours
        if peak is not None:
            check_shape = all_shapes[0]
            misses, hit = check.bodies(ctx, ctx.workdir / "native-bodies")
            rate = 0.5 * peak.rps
            with _pinned(one):
                pinned = measure_ours(ctx, one, check_shape, check._open_jobs(misses, hit, rate),
                                      cpus=PINNED_LOADGEN_CPU)
            # The same load on the ceiling, pinned alike: the tail this grpcio and machine give a server doing nothing.
            with _pinned(ceiling):
                pinned_ceiling = measure_ceiling(ctx, ceiling, check_shape, check._open_jobs(misses, hit, rate),
                                                 cpus=PINNED_LOADGEN_CPU)
            pinned_result = _result("native.check.w1.open50.pinned", check_shape, 1, pinned, pinned_ceiling, None)
            pinned_result.ratio["p99, ours / ceiling"] = ratio(pinned.result.latency.p99_ms,
                                                              pinned_ceiling.result.latency.p99_ms)
            pinned_result.params.update({"loop": "open", "target_rps": round(rate), "server_cpus": PINNED_SERVER_CPU,
                                         "loadgen_cpus": PINNED_LOADGEN_CPU})
            pinned_result.ratio["achieved / target rate"] = ratio(pinned.rps, rate)
            results.append(pinned_result)
    for arrangement in OTHER_ARRANGEMENTS:  # is another way of serving faster on the ceiling itself?
        with ceiling_server(arrangement) as other:
            for shape in all_shapes:
                if shape.name in ("check", biggest):
                    measured = measure_ceiling(ctx, other, shape)
                    result = next(found for found in results if found.name == f"native.{shape.name}.w1")
                    result.peers[f"ceiling_{arrangement}"] = peer_figures(
                        measured.rps * shape.keys_per_rpc, "keys/s", measured.result.latency,
                        **measured.figures(shape.keys_per_rpc))
                    result.ratio[f"ceiling {arrangement} / ceiling (RPC/s)"] = ratio(
                        measured.rps, float(result.peers["ceiling"]["rpc_per_s"]))
    if ctx.worker_counts() != (1,):
        with ctx.server(2) as two:
            for shape in all_shapes:
                if shape.name in ("check", biggest):
                    ours = measure_ours(ctx, two, shape, _jobs(shape))
                    result = _result(f"native.{shape.name}.w2", shape, 2, ours, None, None)
                    one_worker = next(found for found in results if found.name == f"native.{shape.name}.w1")
                    result.ratio["2 workers / 1 worker (RPC/s)"] = ratio(result.ops_per_s, one_worker.ops_per_s)
                    two_cost = result.extra["server_cpu_us_per_rpc"]
                    one_cost = one_worker.extra["server_cpu_us_per_rpc"]
                    if isinstance(two_cost, float) and isinstance(one_cost, float) and two_cost > 0:
                        # Throughput per core the server burnt, times the workers: 2.0 when a second worker
                        # doubles what a core gives; the 1.7 allows 15% lost to sharing.
                        result.ratio["2 workers / 1 worker (CPU-normalised)"] = ratio(2 * one_cost, two_cost)
                    results.append(result)
    return results

