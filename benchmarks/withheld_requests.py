"""Calls that withhold their request messages, against another caller's Checks (risklist_server.rpc.request_waits).

Starts `risklist-server --workers 1` on a copy of a store; for each rate, an attacker process opens Check calls at
that rate and never sends their request messages, while this process sends a Check 20 times a second (timeout
5 s) and records how long each took. Rate 0 is the baseline. Both sides are the development member (the server
runs --insecure-dev, as the harness's): the harder case, since the caller being measured shares the suspect
member's identity. Results: benchmarks/results/withheld_requests-NAME.json. Usage:

    python -m benchmarks.withheld_requests [--store DIR] [--rates 0,100,300] [--seconds 8] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2 as pb

from benchmarks.machine import describe_machine
from benchmarks.server_proc import start_server

DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parent / "results"
CHECK = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="13800138000")).SerializeToString()
CHECKS_PER_SECOND = 20
CONNECTIONS = 4


def attack(address: str, rate: float, seconds: float) -> None:
    """Open Check calls at `rate` a second for `seconds`, never sending their requests; print how they ended."""
    release = threading.Event()

    def withheld() -> Iterator[bytes]:
        release.wait()
        yield from ()

    channels = [grpc.insecure_channel(address) for _ in range(CONNECTIONS)]
    for channel in channels:
        grpc.channel_ready_future(channel).result(timeout=10)
    calls = []
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        due = len(calls) / rate
        if due > elapsed:
            time.sleep(due - elapsed)
        check = channels[len(calls) % CONNECTIONS].stream_unary("/risklist.v1.RiskList/Check")
        calls.append(check.future(withheld(), timeout=60))
    ended: dict[str, int] = {}
    for call in calls:
        if call.done() and call.exception() is not None:
            code = call.exception().code().name  # type: ignore[union-attr]
            ended[code] = ended.get(code, 0) + 1
    release.set()
    for call in calls:
        call.cancel()
    print(json.dumps({"opened": len(calls), "ended_by_server": ended}), flush=True)


def measure(address: str, rate: float, seconds: float) -> dict[str, object]:
    """Checks at CHECKS_PER_SECOND while an attacker process (if `rate`) withholds calls at `rate`."""
    attacker = None
    if rate > 0:
        attacker = subprocess.Popen([sys.executable, "-m", "benchmarks.withheld_requests", "--attack", address,
                                     "--rate", str(rate), "--seconds", str(seconds + 1)], stdout=subprocess.PIPE,
                                    text=True)
        time.sleep(1.0)  # the attack is under way (its first second included: the member is not yet suspect)
    latencies, failed = [], 0
    with grpc.insecure_channel(address) as channel:
        check = channel.unary_unary("/risklist.v1.RiskList/Check")
        finish = time.perf_counter() + seconds
        while time.perf_counter() < finish:
            started = time.perf_counter()
            try:
                check(CHECK, timeout=5)
                latencies.append((time.perf_counter() - started) * 1000)
            except grpc.RpcError:
                failed += 1
            time.sleep(max(0.0, 1 / CHECKS_PER_SECOND - (time.perf_counter() - started)))
    attacked: dict[str, object] = {}
    if attacker is not None:
        output, _ = attacker.communicate(timeout=120)
        attacked = json.loads(output.strip().splitlines()[-1])
    latencies.sort()
    return {"rate": rate, "checks": len(latencies), "failed": failed,
            "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
            "p99_ms": round(latencies[int(len(latencies) * 0.99)], 2) if latencies else None,
            "max_ms": round(latencies[-1], 2) if latencies else None, **attacked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=DATA / "store-200k-seed1-202612")
    parser.add_argument("--secret-file", type=Path, default=DATA / "bench-seed1.secret")
    parser.add_argument("--rates", default="0,100,300", help="withheld calls a second, one measurement each")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--name", default="latest")
    parser.add_argument("--attack", metavar="ADDRESS", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        attack(args.attack, args.rate, args.seconds)
        return
    if not args.store.is_dir():
        parser.error(f"no store at {args.store}: build it with `python -m benchmarks.harness --quick` first")
    rows = []
    with tempfile.TemporaryDirectory(prefix="withheld-") as directory:
        copy = Path(directory) / "store"
        shutil.copytree(args.store, copy)
        with start_server(copy, args.secret_file, workers=1) as server:
            for rate in (float(value) for value in args.rates.split(",")):
                row = measure(server.address, rate, args.seconds)
                print(", ".join(f"{key} {value}" for key, value in row.items()), flush=True)
                rows.append(row)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"withheld_requests-{args.name}.json").write_text(json.dumps(
        {"benchmark": f"withheld_requests-{args.name}", "machine": describe_machine(), "seconds": args.seconds,
         "checks_per_second": CHECKS_PER_SECOND, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
