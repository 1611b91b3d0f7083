"""The audit trail's cost on a real gRPC server: BatchCheck keys/s and server CPU per key, trail off vs on.

One server process (this one) serves RiskList over loopback exactly as `risklist-server
--workers 1` does (create_server), with the audit trail discarded or appended to segments in a
temporary directory; a client subprocess sends 1000-digest BatchChecks (99%+ misses) from four
threads for --seconds. Settings alternate run by run so drift affects both alike. Figures per
setting, medians of --runs: keys per wall second, and microseconds of this process's CPU (all
threads: the trail's commit thread and the kernel's appends count) per key.
Usage:
  python -m benchmarks.audit_cost [--runs 3] [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.audit.trail import DISCARD, AuditSink, AuditTrail
from risklist_server.core.subject import SubjectResolver
from risklist_server.process.logs import configure_logging
from risklist_server.rpc.app import create_server
from risklist_server.services.lookup import LookupService
from risklist_server.store.risk_store import RiskStore

BATCH = 1000
CLIENT_THREADS = 4


def client(address: str, seconds: float) -> int:
    """Send BatchChecks of random digests from CLIENT_THREADS threads for `seconds`; return keys checked."""
    request = pb.BatchCheckRequest(subjects=[
        pb.Subject(type=1 + index % 7, digest=os.urandom(16)) for index in range(BATCH)
    ]).SerializeToString()
    counts: list[int] = []

    def run() -> None:
        with grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            call = channel.unary_unary("/risklist.v1.RiskList/BatchCheck")
            sent = 0
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                call(request, timeout=10)
                sent += 1
            counts.append(sent * BATCH)

    threads = [threading.Thread(target=run) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def one_run(lookup: LookupService, audit: AuditSink, seconds: float) -> tuple[float, float]:
    """(keys per second, server CPU µs per key) of one load against a server with `audit`."""
    server, port, _ = create_server("127.0.0.1:0", lookup, log_every_rpc=False, audit=audit)
    server.start()
    try:
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "benchmarks.audit_cost", "--client", f"127.0.0.1:{port}",
                               "--seconds", str(seconds)], capture_output=True, text=True, check=True)
        cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
    finally:
        server.stop(None).wait()
    keys = int(done.stdout.strip())
    return keys / wall, cpu / keys * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--client", metavar="ADDR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(client(args.client, args.seconds))
        return
    configure_logging("console", level=30)  # warnings only: a successful RPC is not logged anyway
    secret = NetworkSecret(secrets.token_bytes(32))
    figures: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as directory:
        store = RiskStore(f"{directory}/db", create=True, secret_fingerprint=secret.fingerprint)
        lookup = LookupService(store, SubjectResolver(Normaliser(), Digester(secret)), max_batch=BATCH)
        trail = AuditTrail(f"{directory}/audit", "bench")
        try:
            for _ in range(args.runs):
                figures["off"].append(one_run(lookup, DISCARD, args.seconds))
                figures["on"].append(one_run(lookup, trail, args.seconds))
        finally:
            trail.close()
            store.close()
    medians = {setting: (statistics.median(k for k, _ in runs), statistics.median(c for _, c in runs))
               for setting, runs in figures.items()}
    for setting, (keys_per_s, cpu_us) in medians.items():
        print(f"audit {setting}: {keys_per_s:,.0f} keys/s, {cpu_us:.3f} µs server CPU per key "
              f"(medians of {args.runs}; runs: {', '.join(f'{k:,.0f}' for k, _ in figures[setting])})")
    (off_keys, off_cpu), (on_keys, on_cpu) = medians["off"], medians["on"]
    print(f"audit cost: {1 - on_keys / off_keys:.1%} of the throughput, {on_cpu / off_cpu - 1:.1%} more CPU per key")


if __name__ == "__main__":
    main()
