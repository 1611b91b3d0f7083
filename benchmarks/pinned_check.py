"""Check latency at a fixed open-loop rate, with h2load and the server pinned to their own cores (issue 16, item 3).

The native scenario measures this once per run at half of the peak it found; this measures it alone, at a rate
you choose, several times, so a change to the server can be compared before and after (run it from each tree).
It starts `risklist-server --workers 1` on a copy of a store (or, with --ceiling, benchmarks.ceiling_server served
one of its ways: the floor of that arrangement), pins every thread of the server to CPU 0 and h2load to CPU 1,
sends Check of raw values (misses of three entity types) for `--seconds`, and reports percentiles and the slow
calls' episodes (calls over 10 ms, grouped when less than 0.2 s apart): periodic episodes point at
periodic work in the server. Results: benchmarks/results/pinned_check-NAME.json. Usage:

    python -m benchmarks.pinned_check [--store DIR] [--rate 1300] [--seconds 15] [--runs 3] [--name NAME]
                                      [--threads N] [--ceiling sync|sync-unary|aio] [--swap-cpus]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from risklist.v1 import risklist_pb2 as pb

from benchmarks import h2load
from benchmarks.grpc_frames import encode_frame
from benchmarks.machine import describe_machine
from benchmarks.scenarios.check import _open_jobs
from benchmarks.scenarios.native import PINNED_LOADGEN_CPU, PINNED_SERVER_CPU, ceiling_server, pin_tree
from benchmarks.server_proc import start_server

DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parent / "results"
MISSES = ((pb.ENTITY_TYPE_CARD, "6221267563481105"), (pb.ENTITY_TYPE_PHONE, "13800138000"),
          (pb.ENTITY_TYPE_ACCOUNT, "gb04wlbk11335756348110"), (pb.ENTITY_TYPE_CARD, "6221267563481106"))
SLOW_MS = 10.0


def _bodies(directory: Path) -> list[Path]:
    paths = []
    for number, (entity_type, value) in enumerate(MISSES):
        path = directory / f"check-{number}.bin"
        path.write_bytes(encode_frame(pb.CheckRequest(subject=pb.Subject(type=entity_type, value=value))))
        paths.append(path)
    return paths


def _episodes(timed: Sequence[tuple[float, float]]) -> list[dict[str, float]]:
    """Slow calls grouped into episodes: (start s, end s, slowest ms, calls)."""
    episodes: list[dict[str, float]] = []
    for at, latency in timed:
        if latency <= SLOW_MS:
            continue
        if episodes and at - episodes[-1]["end_s"] < 0.2:
            episode = episodes[-1]
            episode.update(end_s=at, max_ms=max(episode["max_ms"], latency), calls=episode["calls"] + 1)
        else:
            episodes.append({"start_s": at, "end_s": at, "max_ms": latency, "calls": 1})
    return episodes


@contextmanager
def _served(store: Path, secret: Path, workdir: Path, threads: int | None,
            ceiling: str | None) -> Iterator[tuple[int, int]]:
    """(root process id, port) of a fresh server on a copy of `store`, or of the ceiling served as `ceiling` says."""
    if ceiling is not None:
        with ceiling_server(ceiling) as served:
            yield served.process.pid, served.port
        return
    copy = workdir / "store"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(store, copy)
    server = start_server(copy, secret, workers=1, threads=threads)
    try:
        yield server.process.pid, server.port
    finally:
        server.stop()


def measure(store: Path, secret: Path, rate: float, seconds: float, workdir: Path,
            cpus: tuple[str, str] = (PINNED_SERVER_CPU, PINNED_LOADGEN_CPU),
            threads: int | None = None, ceiling: str | None = None) -> dict[str, object]:
    """One run: a fresh server (or the ceiling), pinned, under Check at `rate` for `seconds`."""
    bodies = _bodies(workdir)
    with _served(store, secret, workdir, threads, ceiling) as (pid, port):
        pin_tree(pid, cpus[0])
        url = f"http://127.0.0.1:{port}/risklist.v1.RiskList/Check"
        jobs = _open_jobs(bodies[:-1], bodies[-1], rate)
        result = h2load.run(url, jobs, duration=seconds, warmup=1.0, workdir=workdir / "h2load", cpus=cpus[1])
    episodes = _episodes(result.timed_ms)
    return {"rpc_per_s": round(result.rps, 1), "p50_ms": result.latency.p50_ms, "p99_ms": result.latency.p99_ms,
            "p999_ms": result.latency.p999_ms, "max_ms": result.latency.max_ms, "failed": result.failed,
            "slow_calls": sum(int(episode["calls"]) for episode in episodes), "slow_episodes": len(episodes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=DATA / "store-2m-seed1-202612")
    parser.add_argument("--secret-file", type=Path, default=DATA / "bench-seed1.secret")
    parser.add_argument("--rate", type=float, default=1300.0, help="Check calls per second in all")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--name", default="latest")
    parser.add_argument("--threads", type=int, help="the server's --threads (default: its own)")
    parser.add_argument("--ceiling", choices=("sync", "sync-unary", "aio"),
                        help="measure benchmarks.ceiling_server served this way instead of ours")
    parser.add_argument("--swap-cpus", action="store_true", help="the server on CPU 1 and h2load on CPU 0")
    args = parser.parse_args()
    if not args.store.is_dir():
        parser.error(f"no store at {args.store}: build it with `python -m benchmarks.harness --entries 2M` first")
    cpus = (PINNED_LOADGEN_CPU, PINNED_SERVER_CPU) if args.swap_cpus else (PINNED_SERVER_CPU, PINNED_LOADGEN_CPU)
    runs = []
    with tempfile.TemporaryDirectory(prefix="pinned-check-") as directory:
        for number in range(args.runs):
            run = measure(args.store, args.secret_file, args.rate, args.seconds, Path(directory), cpus, args.threads,
                          args.ceiling)
            print(f"run {number + 1}: " + ", ".join(f"{key} {value}" for key, value in run.items()), flush=True)
            runs.append(run)
    medians = {key: statistics.median(float(run[key]) for run in runs)  # type: ignore[arg-type]
               for key in ("rpc_per_s", "p50_ms", "p99_ms", "p999_ms", "slow_calls")}
    print("median: " + ", ".join(f"{key} {value:g}" for key, value in medians.items()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"pinned_check-{args.name}.json").write_text(json.dumps(
        {"benchmark": f"pinned_check-{args.name}", "machine": describe_machine(), "store": str(args.store),
         "rate": args.rate, "seconds": args.seconds, "server_cpu": cpus[0], "threads": args.threads,
         "ceiling": args.ceiling, "runs": runs, "median": medians}, indent=1) + "\n")


if __name__ == "__main__":
    main()
