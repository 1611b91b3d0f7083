"""Check latency while a running server writes a backup (Admin.Backup), and backup/verify/restore times.

Builds (once, cached in benchmarks/data/) the harness's store of ENTRIES, serves a private copy
with --workers 2, and keeps CLIENTS closed-loop Check clients (99% misses, by digest) running
throughout. After an idle window it asks for a backup into a directory on the store's file system
(hard links) and then into one on /dev/shm (another file system: every file copied), and compares
the latency of the checks answered during each backup with the idle window's. Then it times
`risklist-admin verify` and `restore` of the copied backup. Usage:
  python -m benchmarks.backup_latency [--entries 1000000] [--clients 4] [--idle 5] [--quick]
--quick: 200k entries, 2 s windows, results not written; otherwise benchmarks/results/backup.json.
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
from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from benchmarks.dataset import DATA, Dataset, copy_store
from benchmarks.machine import describe_machine
from benchmarks.scenarios import bulk_load
from benchmarks.server_proc import start_server

RESULTS = Path(__file__).parent / "results" / "backup.json"
ADMIN = str(Path(sys.executable).parent / "risklist-admin")


class CheckLoad:
    """Closed-loop Check clients recording (start time, latency) of every answered call."""

    def __init__(self, address: str, keys: list[bytes], clients: int) -> None:
        self._stop = threading.Event()
        self.samples: list[tuple[float, float]] = []
        self.failures = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(address, keys[offset::clients]))
                         for offset in range(clients)]

    def _client(self, address: str, keys: list[bytes]) -> None:
        requests = [pb.CheckRequest(subject=pb.Subject(type=key[0], digest=key[1:])) for key in keys]
        local: list[tuple[float, float]] = []
        with grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            check = pb_grpc.RiskListStub(channel).Check
            index = 0
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    check(requests[index % len(requests)], timeout=10)
                    local.append((started, time.perf_counter() - started))
                except grpc.RpcError:
                    with self._lock:
                        self.failures += 1
                index += 1
        with self._lock:
            self.samples.extend(local)

    def __enter__(self) -> CheckLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def _summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"calls": 0}
    return {
        "calls": len(ordered),
        "rate_per_s": round(len(ordered) / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def checks_between(samples: list[tuple[float, float]], start: float, end: float) -> dict[str, float]:
    """Rate and latency of the checks (start time, latency) that started in [start, end)."""
    return _summary([latency for started, latency in samples if start <= started < end], end - start)


def timed_admin(*args: str) -> float:
    """Seconds one `risklist-admin ARGS…` took (raises if it failed)."""
    started = time.perf_counter()
    subprocess.run([ADMIN, *args], check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 2)


def measure(entries: int, clients: int, idle: float) -> dict[str, object]:
    """Run the measurement; return the result object."""
    dataset = Dataset(entries, 1)
    DATA.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="backup-bench-", dir=DATA))
    copied = Path(tempfile.mkdtemp(prefix="risklist-backup-bench-", dir="/dev/shm"))
    try:
        bulk_load.ensure_store(dataset, work)
        keys = dataset.queries(20_000).keys
        store = copy_store(dataset.store, work / "store")
        store_bytes = sum(path.stat().st_size for path in store.iterdir() if path.is_file())
        windows: dict[str, object] = {}
        with start_server(store, dataset.secret_file, workers=2) as server, \
                grpc.insecure_channel(server.admin_address) as admin_channel:
            admin = pb_grpc.AdminStub(admin_channel)
            with CheckLoad(server.address, keys, clients) as load:
                time.sleep(idle)
                for name, directory in (("hard_links", work / "backup"), ("copy_to_dev_shm", copied / "backup")):
                    started = time.perf_counter()
                    response = admin.Backup(pb.BackupRequest(directory=str(directory)), timeout=3600)
                    ended = time.perf_counter()
                    windows[name] = {"seconds": round(ended - started, 3), "bytes": response.bytes,
                                     "files": response.files, "during": (started, ended)}
                    time.sleep(idle)
                finished = time.perf_counter()
            first = min(started for started, _ in load.samples)
            for name in ("hard_links", "copy_to_dev_shm"):
                window = windows[name]
                assert isinstance(window, dict)
                window["checks_during"] = checks_between(load.samples, *window.pop("during"))
            idle_checks = checks_between(load.samples, first + 0.5, first + idle)
        verify_s = timed_admin("verify", str(copied / "backup"))
        restore_s = timed_admin("restore", "--from", str(copied / "backup"), "--db", str(work / "restored"),
                           "--secret-file", str(dataset.secret_file))
        return {
            "name": "backup_latency",
            "params": {"entries": entries, "clients": clients, "workers": 2, "idle_s": idle,
                       "store_bytes": store_bytes},
            "checks_idle": idle_checks,
            "backups": windows,
            "check_failures": load.failures,
            "checks_total_s": round(finished - first, 1),
            "verify_s": verify_s,
            "restore_s": restore_s,
            "machine": describe_machine(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(copied, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of checks before and after each backup")
    parser.add_argument("--quick", action="store_true", help="200k entries, 2 s windows; results not written")
    args = parser.parse_args()
    result = measure(200_000 if args.quick else args.entries, args.clients, 2.0 if args.quick else args.idle)
    print(json.dumps(result, indent=2))
    if not args.quick:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
