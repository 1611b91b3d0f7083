"""One call at a time: what a partner's check() waits for when its filter cannot rule a subject out (issue 16, item 5).

The SDK answers most checks from its local filter; the rest (hits and false positives) are one Check call each,
made from the application's thread. This measures that call's round trip with nothing else running: from a Python
grpc client (what the SDK uses) and from h2load with one connection and one stream (a C client, no Python in the
loop), against the ceiling served two ways (benchmarks.ceiling_server: `sync`, the server's own arrangement, and
`aio`) and against `risklist-server --workers 1` (an empty store: the miss a false positive is); and redis-py GET
after GET against redis-server, the peer of the partner scenario. Then the bound it puts on the partner scenario
without the positive cache: a check costs at least the local work plus the share of checks that go to the server
times the round trip, so checks/s <= 1 / (local + share x round trip), against redis-py GET's 1 / its round trip.
Results: benchmarks/results/round_trip-NAME.json. Usage:

    python -m benchmarks.round_trip [--calls 3000] [--runs 3] [--local-us 4.5] [--server-share 0.012] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2 as pb

from benchmarks import h2load, redis_peer
from benchmarks.grpc_frames import encode_frame
from benchmarks.machine import describe_machine
from benchmarks.scenarios.common import SERVICE
from benchmarks.scenarios.native import ceiling_server
from benchmarks.server_proc import start_server
from risklist_kernel.secret import NetworkSecret, write_secret

RESULTS = Path(__file__).parent / "results"
REQUEST = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_CARD, digest=bytes(range(16)))).SerializeToString()
WARM_UP_CALLS = 300


def _timed(call: Callable[[], object], calls: int) -> dict[str, float]:
    """p50 and mean in microseconds of `calls` calls one after another (after a warm-up)."""
    for _ in range(WARM_UP_CALLS):
        call()
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return {"p50_us": round(statistics.median(seconds) * 1e6, 1), "mean_us": round(statistics.fmean(seconds) * 1e6, 1)}


def _python_client(port: int, calls: int) -> dict[str, float]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        check = channel.unary_unary(f"/{SERVICE}/Check")
        return _timed(lambda: check(REQUEST, timeout=10), calls)


def _h2load(port: int, seconds: float, workdir: Path) -> dict[str, float]:
    body = workdir / "check.bin"
    body.write_bytes(encode_frame(REQUEST))
    result = h2load.run(f"http://127.0.0.1:{port}/{SERVICE}/Check", [h2load.Job(body, 1, 1)], duration=seconds,
                        warmup=0.5, workdir=workdir / "h2load")
    return {"p50_us": round(result.latency.p50_ms * 1000, 1), "mean_us": round(1e6 / result.rps, 1)}


@contextmanager
def _ours(workdir: Path) -> Iterator[int]:
    secret_file = write_secret(workdir / "network.secret", NetworkSecret(secrets.token_bytes(32)))
    with start_server(workdir / "store", secret_file, workers=1) as server:
        yield server.port


def measure(calls: int, workdir: Path) -> dict[str, dict[str, float]]:
    """One run: every server, both clients; redis-py GET."""
    found: dict[str, dict[str, float]] = {}
    (workdir / "ours").mkdir(parents=True)
    seconds = max(2.0, calls / 1500)
    for arrangement in ("sync", "aio"):
        with ceiling_server(arrangement) as ceiling:
            found[f"ceiling_{arrangement}.python"] = _python_client(ceiling.port, calls)
            found[f"ceiling_{arrangement}.h2load"] = _h2load(ceiling.port, seconds, workdir)
    with _ours(workdir / "ours") as port:
        found["ours.python"] = _python_client(port, calls)
        found["ours.h2load"] = _h2load(port, seconds, workdir)
    with redis_peer.RedisServer() as redis:
        redis.client.set(b"key", b"x" * 64)
        found["redis.get"] = _timed(lambda: redis.client.get(b"key"), calls)
    return found


def bound(round_trip_us: float, redis_us: float, local_us: float, share: float) -> float:
    """The most checks/s of the partner scenario without a positive cache, as a multiple of redis-py GET's."""
    return round(redis_us / (local_us + share * round_trip_us), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per measurement")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--local-us", type=float, default=4.5,
                        help="the SDK's local answer, normalising and digesting included (RESULTS.md: ~4-5 us)")
    parser.add_argument("--server-share", type=float, default=0.012,
                        help="checks the filter cannot settle: the scenario's 1%% hits and ~0.2%% false positives")
    parser.add_argument("--name", default="latest")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="round-trip-") as directory:
        for number in range(args.runs):
            run = measure(args.calls, Path(directory) / str(number))
            print(f"run {number + 1}: " + "; ".join(f"{name} p50 {figures['p50_us']} us, mean {figures['mean_us']} us"
                                                    for name, figures in run.items()), flush=True)
            runs.append(run)
    medians = {name: {key: statistics.median(run[name][key] for run in runs) for key in ("p50_us", "mean_us")}
               for name in runs[0]}
    # Each run's bound against that run's redis-py GET (the machine's speed changes between runs), then the median.
    bounds = {name: statistics.median(bound(run[name]["mean_us"], run["redis.get"]["mean_us"], args.local_us,
                                            args.server_share) for run in runs)
              for name in medians if name.endswith(".python")}
    for name, figures in medians.items():
        print(f"{name:24} p50 {figures['p50_us']:8.1f} us   mean {figures['mean_us']:8.1f} us"
              + (f"   partner bound {bounds[name]}x redis GET" if name in bounds else ""))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"round_trip-{args.name}.json").write_text(json.dumps(
        {"benchmark": f"round_trip-{args.name}", "machine": describe_machine(), "calls": args.calls,
         "local_us": args.local_us, "server_share": args.server_share, "runs": runs, "median": medians,
         "partner_bound_vs_redis_get": bounds}, indent=1) + "\n")


if __name__ == "__main__":
    main()
