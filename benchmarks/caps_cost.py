"""What issue 11's caps cost a normal member: Check and BatchCheck-1000 RPC/s and p99, code before against after.

Each measurement starts a real risklist-server (one worker, process/launch.py of the code under test) on an
empty store and drives it from this client process with an asyncio grpc client (--concurrency calls in
flight): Check of one unlisted phone, then BatchCheck of 1,000 unlisted phones, each for --duration s after a
warm-up. Before and after alternate (ABBA), --rounds rounds; medians, their after/before ratio, and the median of
each round's own after/before ratio (the paired ratio: on a shared machine the load drifts between rounds, less
within one) are printed. Server CPU per call (all its processes, from /proc) is the steadier figure on a shared
machine. The "before" code runs under its own interpreter (a worktree's .venv, e.g. of 3e96f7c), this script as is.
Usage:
  python -m benchmarks.caps_cost --before-python /tmp/wt-before/.venv/bin/python [--rounds 5] [--duration 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

METRICS = ("check_rps", "check_p99_ms", "check_cpu_us", "batch_rps", "batch_p99_ms", "batch_cpu_us")
BATCH_SIZE = 1000


def _write_secret(path: Path) -> None:
    """A fresh network secret, owner-only (the code after issue 11 refuses anything wider)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_hex(32) + "\n")


def _server_cpu_seconds(session: int) -> float:
    """User + system CPU of every process of the server's session (supervisor and workers) so far."""
    total = 0
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session:  # field 6, the session id (fields[0] is field 3, the state)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


async def _drive(address: str, method: str, request: bytes, *, concurrency: int, warmup: float,
                 duration: float, session: int) -> tuple[float, float, float]:
    """(calls per second, p99 latency in ms, server CPU µs per call) of `method` with `concurrency` calls in
    flight for `duration` s."""
    import grpc

    async with grpc.aio.insecure_channel(address) as channel:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(f"/risklist.v1.RiskList/{method}")
        latencies: list[float] = []
        started = time.perf_counter()
        measuring_from = started + warmup
        ends = measuring_from + duration

        cpu: list[float] = []

        async def mark() -> None:
            await asyncio.sleep(max(0.0, measuring_from - time.perf_counter()))
            cpu.append(_server_cpu_seconds(session))
            await asyncio.sleep(max(0.0, ends - time.perf_counter()))
            cpu.append(_server_cpu_seconds(session))

        async def loop() -> None:
            while (now := time.perf_counter()) < ends:
                await call(request, timeout=10)
                done = time.perf_counter()
                if now >= measuring_from:
                    latencies.append(done - now)

        await asyncio.gather(mark(), *(loop() for _ in range(concurrency)))
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / duration, p99 * 1000, (cpu[1] - cpu[0]) / len(latencies) * 1e6


def measure(concurrency: int, warmup: float, duration: float, flags: Sequence[str] = ()) -> dict[str, float]:
    """Start a server of the code this interpreter imports, measure Check and BatchCheck, stop it."""
    from risklist.v1 import risklist_pb2 as pb

    from risklist_server.process.launch import launch

    with tempfile.TemporaryDirectory(prefix="caps-cost-") as scratch:
        secret_file = Path(scratch) / "network.secret"
        _write_secret(secret_file)
        server = launch(Path(scratch) / "db", secret_file, ["--workers", "1", "--insecure-dev", *flags],
                        keep_log=False)
        try:
            phone = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="+8613800138000")
            check = pb.CheckRequest(subject=phone).SerializeToString()
            batch = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=f"+86138{n:08d}")
                                                   for n in range(BATCH_SIZE)]).SerializeToString()
            check_rps, check_p99, check_cpu = asyncio.run(_drive(
                server.address, "Check", check, concurrency=concurrency, warmup=warmup, duration=duration,
                session=server.pid))
            batch_rps, batch_p99, batch_cpu = asyncio.run(_drive(
                server.address, "BatchCheck", batch, concurrency=concurrency, warmup=warmup, duration=duration,
                session=server.pid))
        finally:
            server.terminate()
    return {"check_rps": check_rps, "check_p99_ms": check_p99, "check_cpu_us": check_cpu,
            "batch_rps": batch_rps, "batch_p99_ms": batch_p99, "batch_cpu_us": batch_cpu}


def _run_version(python: str, arguments: argparse.Namespace, flags: str) -> dict[str, float]:
    """One measurement in a child `python` (the version's interpreter), as JSON on its last stdout line."""
    out = subprocess.run([python, str(Path(__file__).resolve()), "--measure", "--concurrency",
                          str(arguments.concurrency), "--warmup", str(arguments.warmup), "--duration",
                          str(arguments.duration), f"--server-flags={flags}"],
                         capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.caps_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--before-python", help="interpreter of the code before (its .venv/bin/python)")
    parser.add_argument("--after-python", default=sys.executable, help="interpreter of the code after (this one)")
    parser.add_argument("--rounds", type=int, default=5, help="before/after pairs, alternating (default 5)")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measurement (default 4)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring (default 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    parser.add_argument("--after-flags", default="", help="extra risklist-server flags for the code after, e.g. "
                        "'--max-streams 1' (to tell what the stream threads cost)")
    parser.add_argument("--json", type=Path, help="also write every run and the medians here")
    parser.add_argument("--server-flags", default="", help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.measure:
        print(json.dumps(measure(arguments.concurrency, arguments.warmup, arguments.duration,
                                 arguments.server_flags.split())))
        return 0
    if not arguments.before_python:
        parser.error("--before-python is required")
    versions = {"before": arguments.before_python, "after": arguments.after_python}
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for round_number in range(arguments.rounds):
        order = ("before", "after") if round_number % 2 == 0 else ("after", "before")
        for name in order:
            runs[name].append(_run_version(versions[name], arguments, arguments.after_flags if name == "after" else ""))
            print(f"round {round_number + 1} {name}: " + ", ".join(f"{key} {value:.1f}"
                                                                    for key, value in runs[name][-1].items()),
                  file=sys.stderr, flush=True)
    medians = {name: {key: statistics.median(run[key] for run in runs[name]) for key in METRICS} for name in runs}
    paired = {key: statistics.median(after[key] / before[key] for before, after in zip(runs["before"], runs["after"],
                                                                                         strict=True))
              for key in METRICS}
    print(f"{'metric':<14}{'before':>10}{'after':>10}{'after/before':>14}{'paired ratio':>14}")
    for key in METRICS:
        before, after = medians["before"][key], medians["after"][key]
        print(f"{key:<14}{before:>10.1f}{after:>10.1f}{after / before:>14.3f}{paired[key]:>14.3f}")
    if arguments.json:
        arguments.json.write_text(json.dumps({"runs": runs, "medians": medians, "paired_ratios": paired}, indent=2)
                                  + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
