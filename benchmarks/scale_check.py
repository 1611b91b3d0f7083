"""Check latency on a large prebuilt store (the 100M-entry scale run): peak, then p50/p99 at 50% of it.

Serves STORE with risklist-server --workers N, sends Check requests of client digests with
h2load (99% misses of random digests, 1% hits drawn Zipf-like from the data set's subjects),
first closed loop to find the peak, then open loop at 50% of that rate. Usage:
  python -m benchmarks.scale_check --entries 100M [--seed 1] [--workers 2] [--duration 10]
The store is benchmarks/data/store-<entries>-seed<seed> built by
`risklist-load benchmarks/data/feed-<entries>-seed<seed>.csv --source bench-network --db …`
(benchmarks/RESULTS.md gives the commands).
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from pathlib import Path

from risklist.v1 import risklist_pb2 as pb

from benchmarks import h2load
from benchmarks.datagen import listed_values, parse_count
from benchmarks.dataset import Dataset, storage_keys
from benchmarks.grpc_frames import encode_frame, method_path
from benchmarks.machine import describe_machine
from benchmarks.server_proc import start_server

RESULTS = Path(__file__).parent / "results" / "scale_check.json"
CONNECTIONS = 16
HIT_BODIES = 4


def _body(directory: Path, name: str, key: bytes) -> Path:
    path = directory / f"{name}.bin"
    path.write_bytes(encode_frame(pb.CheckRequest(subject=pb.Subject(type=key[0], digest=key[1:]))))
    return path


def measure(dataset: Dataset, workers: int, duration: float) -> dict[str, object]:
    """Peak and 50%-of-peak latency of Check on the dataset's store."""
    hits = storage_keys(listed_values(dataset.entries, dataset.seed, HIT_BODIES), dataset.secret)
    with tempfile.TemporaryDirectory(prefix="risklist-scale-") as scratch:
        work = Path(scratch)
        misses = [_body(work, f"miss-{n}", bytes((1 + n % 4,)) + secrets.token_bytes(16)) for n in range(4)]
        hit_bodies = [_body(work, f"hit-{n}", key) for n, key in enumerate(hits)]
        started = time.perf_counter()
        with start_server(dataset.store, dataset.secret_file, workers=workers) as server:
            startup_s = time.perf_counter() - started
            url = f"http://{server.address}{method_path('risklist.v1.RiskList', 'Check')}"
            closed = [h2load.Job(body, CONNECTIONS // len(misses), 4) for body in misses]
            peak = h2load.run(url, closed, duration=duration, warmup=1, workdir=work / "closed")
            rate = peak.rps / 2
            # 99% misses, 1% hits: per-connection rates of one connection per body.
            open_jobs = [h2load.Job(body, 1, 1, rate * 0.99 / len(misses)) for body in misses]
            open_jobs += [h2load.Job(body, 1, 1, rate * 0.01 / len(hit_bodies)) for body in hit_bodies]
            half = h2load.run(url, open_jobs, duration=duration, warmup=1, workdir=work / "open")
    return {
        "name": "scale_check",
        "params": {"entries": dataset.entries, "workers": workers, "duration_s": duration},
        "server_startup_s": round(startup_s, 1),
        "peak": {"rps": round(peak.rps), "failed": peak.failed, "latency_ms": peak.latency.as_dict()},
        "half_peak": {"target_rps": round(rate), "rps": round(half.rps), "failed": half.failed,
                      "latency_ms": half.latency.as_dict()},
        "machine": describe_machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=parse_count, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    dataset = Dataset(args.entries, args.seed)
    if not dataset.store.exists():
        parser.error(f"no store at {dataset.store}; build it first (see the module docstring)")
    result = measure(dataset, args.workers, args.duration)
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
