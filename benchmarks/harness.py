"""The benchmark harness: every scenario against its peers in one run; writes JSON, markdown and a chart.

Usage:
  python -m benchmarks.harness [--quick] [--entries 10M] [--seed 1] [--runs 3] [--scenarios check,batch,...]
Full mode (`make bench`): 10M entries, 3 runs, medians, benchmarks/results/harness.{json,md,png} and the
harness section of benchmarks/RESULTS.md. Quick mode (`make bench-quick`): 200k entries, 1 run,
*.quick.* outputs (gitignored).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import h2load, redis_peer
from benchmarks.chart import write_chart, write_cost_chart
from benchmarks.context import FULL, QUICK, Context
from benchmarks.cost_tables import cost_tables
from benchmarks.datagen import parse_count
from benchmarks.dataset import DATA, Dataset
from benchmarks.loadgen import ClientPool
from benchmarks.machine import describe_machine
from benchmarks.report import render
from benchmarks.results import RESULTS_DIR, ScenarioResult, document, merge_runs, write_json
from benchmarks.scenarios import batch, bulk_load, check, cluster, inprocess, live_load, native, partner, stream
from benchmarks.server_proc import supports_workers
from benchmarks.targets import check_targets

SCENARIOS: dict[str, Callable[[Context], list[ScenarioResult]]] = {
    "bulk_load": bulk_load.run,
    "inprocess": inprocess.run,
    "check": check.run,
    "batch": batch.run,
    "stream": stream.run,
    "live_load": live_load.run,
    "partner": partner.run,
    "native": native.run,
    "cluster": cluster.run,
}
RESULTS_MD = Path(__file__).parent / "RESULTS.md"
BEGIN, END = "<!-- harness:begin -->", "<!-- harness:end -->"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.harness", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small store, 1 run, short measurements")
    parser.add_argument("--entries", type=parse_count, help="distinct listed subjects (default 10M; quick 200k)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, help="runs to take medians over (default 3; quick 1)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--duration", type=float, help="seconds per measurement (default 10; quick 1.5)")
    parser.add_argument("--queries", type=parse_count, help="query stream length (default 200k; quick 20k)")
    parser.add_argument("--name", default="harness", help="results file stem under benchmarks/results/")
    parser.add_argument("--no-results-md", action="store_true", help="do not update benchmarks/RESULTS.md")
    parser.add_argument("--no-redis", action="store_true",
                        help="no Redis peer (e.g. for a 100M-entry scale run, where Redis would need ~12 GiB)")
    parser.add_argument("--reuse-store", action="store_true",
                        help="serve the store a previous invocation built, if any (for iterating on one "
                        "scenario); by default the store is rebuilt by this checkout's loader")
    return parser


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


METHOD = """\
How it measures (benchmarks/harness.py; every figure is the median over the runs, every ratio is
taken within one run, so the noise of this shared 2-core machine hits both sides alike):

- **Data**: `benchmarks.datagen` feed of N distinct subjects (~1.1 N rows, the issue's type mix),
  loaded by `risklist-load --db` (scenario `bulk_load`; the first load of each invocation is the
  store every server then serves, through a private hard-linked copy). Redis (`redis-server
  --save '' --appendonly no`, started by the harness) gets the store's own keys (type byte +
  digest) and records by pipelined SET, 1000 per pipeline. Queries: 99% misses
  (`miss_values`) + 1% Zipf hits (`listed_values`), shuffled, digested in-process, the same
  batches for every peer.
- **check**: h2load (not Python) POSTs gRPC frames of Check requests (raw values, one body per
  h2load process, several entity types), closed loop at each concurrency, then open loop
  (`--rps`) at 50% and 80% of that worker count's closed-loop peak with 1% hit bodies; 1 and 2
  workers in the same run. Latencies are per request from h2load's `--log-file`; gRPC statuses
  come from the server's /metrics (h2load counts any HTTP 200 as a success).
- **native** (the headline): h2load sends every gRPC shape (Check; BatchCheck of 10, 100 and 1000
  digests and raw values; StreamCheck) to our server and to the ceiling (benchmarks/ceiling_server.py:
  the same grpcio, threads and registration, handlers answering a fixed response), redis-benchmark
  GET and MGET of as many keys to redis-server; server CPU-µs per key from /proc over the window.
  Then Check at half of one worker's peak with h2load and the server pinned to their own cores.
- **batch / stream** (what a Python partner sees): Python clients in spawned processes (one
  connection per client thread, so SO_REUSEPORT spreads them over the workers) send
  pre-serialized requests and keep the answers as bytes; peers are redis-py GET, MGET and
  pipelined GET of the same key batches from the same client processes and threads.
- **inprocess**: the ceiling without gRPC: rocksdict get / multi-get against RiskStore
  lookup / lookup_many (front + store) on the same keys, measured in alternation.
- **live_load**: two probe threads Check continuously; idle window, then a feed of new
  subjects through `risklist-load --server` (the admin port); the latency bump is during/idle;
  then, from the loader's exit (its acknowledgement), every sampled new subject is polled by
  BatchCheck on 8 connections until LISTED on all of them.
- **partner** (what a Python partner sees): one application thread calling the SDK's
  `check(type, raw value)` in a closed loop on the query stream: with the local pre-screen filter
  (after its download), without it (every check a Check RPC), and redis-py GET of the same keys
  (precomputed digests) from the same thread.
- CPU per process and peak RSS come from /proc (server: supervisor, writer and each worker;
  redis-server; the loader via wait4).
"""


def update_results_md(markdown: str, path: Path = RESULTS_MD) -> None:
    """Replace (or append) the harness section of RESULTS.md, keeping every other section."""
    title = "## The harness: ours, the ceiling and Redis (issues 3 and 16)"
    section = f"{BEGIN}\n{title}\n\n{METHOD}\n{markdown}{END}"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.duration is not None:
        settings = dataclasses.replace(settings, duration=args.duration)
    if args.queries is not None:
        settings = dataclasses.replace(settings, queries=args.queries)
    entries = args.entries or (200_000 if args.quick else 10_000_000)
    runs = args.runs or (1 if args.quick else 3)
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        build_parser().error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    started = time.perf_counter()
    dataset = Dataset(entries, args.seed)
    workdir = DATA / f"work-{int(time.time())}"
    workdir.mkdir(parents=True, exist_ok=True)
    redis: redis_peer.RedisServer | None = None
    all_runs: list[list[ScenarioResult]] = []
    notes: list[str] = []
    try:
        log(f"data set {dataset.name}: feed")
        dataset.ensure_feed()
        if dataset.store.exists() and not args.reuse_store:
            shutil.rmtree(dataset.store)
        log(f"store: risklist-load --db {dataset.store}")
        build = bulk_load.ensure_store(dataset, workdir)
        log(f"query stream of {settings.queries:,} (99% misses)")
        queries = dataset.queries(settings.queries)
        if args.no_redis:
            notes.append("run with --no-redis: no Redis peer")
        elif redis_peer.available():
            log("redis-server: start and load the same keys")
            redis = redis_peer.RedisServer()
        else:
            notes.append("redis-server is not installed (benchmarks/install_tools.sh): no Redis peer")
        with ClientPool(settings.client_processes) as clients:
            ctx = Context(settings, dataset, queries, workdir, clients, redis, notes=notes)
            if build is not None:
                ctx.memo["store_build"] = build
            if redis is not None:
                ctx.memo["run1:redis_load"] = bulk_load.redis_load(ctx, dataset.store)
            for run in range(1, runs + 1):
                ctx.run = run
                results: list[ScenarioResult] = []
                for name in chosen:
                    log(f"run {run}/{runs}: {name}")
                    results.extend(SCENARIOS[name](ctx))
                all_runs.append(results)
    finally:
        if redis is not None:
            redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    scenarios = merge_runs(all_runs)
    metrics_errors = sorted({str(result.extra["metrics_error"]) for run in all_runs for result in run
                             if result.extra.get("metrics_error")})
    notes.extend(f"gRPC statuses from /metrics are incomplete: {error}" for error in metrics_errors)
    command = "python -m benchmarks.harness " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    params = {"entries": entries, "seed": args.seed, "queries": settings.queries, "runs": runs,
              "duration_s": settings.duration, "warmup_s": settings.warmup, "scenarios": chosen,
              "client_processes": settings.client_processes, "client_threads": settings.client_threads,
              "server_workers_supported": supports_workers(), "h2load": h2load.available(),
              "wall_seconds": round(time.perf_counter() - started)}
    data = document(name=args.name, command=command.strip(), mode="quick" if args.quick else "full", params=params,
                    machine=describe_machine(), scenarios=scenarios, targets=check_targets(scenarios), notes=notes)
    stem = f"{args.name}.quick" if args.quick else args.name
    write_json(RESULTS_DIR / f"{stem}.json", data)
    markdown = render(data, headline=cost_tables(data["scenarios"]))
    (RESULTS_DIR / f"{stem}.md").write_text(markdown)
    write_chart(data, RESULTS_DIR / f"{stem}.png")
    write_cost_chart(data, RESULTS_DIR / f"{stem}.cost.png")
    if not args.quick and not args.no_results_md:
        update_results_md(markdown)
    print(markdown)
    log(f"done in {time.perf_counter() - started:.0f} s: benchmarks/results/{stem}.json, .md, .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
