"""The BatchCheck servicer path in-process (no network): protobuf in, verdicts out, keys/s.

1000 client digests per request, all misses, an empty store (so the figure is the cost of
conversion, resolution and the front, not of RocksDB). Median of --runs runs, with the audit
trail off (records discarded), on (appended to segments in a temporary directory, as a
server does), or both, alternating run by run so drift affects both alike. Two figures: keys
per wall-clock second, and keys per CPU-second of the whole process (all threads, so the
audit's commit thread counts; steadier than wall time on a machine shared with other load).
Usage:
  python -m benchmarks.batch_servicer [--runs 7] [--audit off|on|both]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Sequence

import grpc
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.audit.trail import DISCARD, AuditTrail
from risklist_server.core.subject import SubjectResolver
from risklist_server.process.logs import configure_logging
from risklist_server.rpc.access.gate import Gate
from risklist_server.rpc.risklist_servicer import RiskListServicer
from risklist_server.services.lookup import LookupService
from risklist_server.store.risk_store import RiskStore

BATCH = 1000
REQUESTS = 20


class _Context:
    """The two ServicerContext methods BatchCheck asks before working."""

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> float | None:
        return None


def measure(runs: int, audits: Sequence[bool] = (False,)) -> dict[bool, tuple[float, float]]:
    """Median (keys per wall s, keys per CPU s) over `runs` runs of REQUESTS requests, per audit setting."""
    secret = NetworkSecret(secrets.token_bytes(32))
    requests = [  # as the server receives them: bytes
        pb.BatchCheckRequest(subjects=[
            pb.Subject(type=pb.ENTITY_TYPE_ACCOUNT, digest=secrets.token_bytes(16)) for _ in range(BATCH)
        ]).SerializeToString()
        for _ in range(REQUESTS)
    ]
    with tempfile.TemporaryDirectory() as directory:
        store = RiskStore(f"{directory}/db", create=True, secret_fingerprint=secret.fingerprint)
        trail = AuditTrail(f"{directory}/audit", "bench")
        try:
            lookup = LookupService(store, SubjectResolver(Normaliser("CN"), Digester(secret)), max_batch=BATCH)
            gate = Gate()
            servicers = {audit: RiskListServicer(lookup, gate=gate, log_success=False,
                                                 audit=trail if audit else DISCARD)
                         for audit in audits}
            context: grpc.ServicerContext = _Context()  # type: ignore[assignment]
            wall: dict[bool, list[float]] = {audit: [] for audit in audits}
            cpu: dict[bool, list[float]] = {audit: [] for audit in audits}
            for _ in range(runs):
                for audit, servicer in servicers.items():
                    trail.flush()  # each run pays for the records it made, not the previous run's
                    started, started_cpu = time.perf_counter(), time.process_time()
                    for request in requests:
                        servicer.BatchCheck(request, context)
                    if audit:
                        trail.flush()
                    wall[audit].append(BATCH * REQUESTS / (time.perf_counter() - started))
                    cpu[audit].append(BATCH * REQUESTS / (time.process_time() - started_cpu))
        finally:
            trail.close()
            store.close()
    return {audit: (statistics.median(wall[audit]), statistics.median(cpu[audit])) for audit in audits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--audit", choices=["off", "on", "both"], default="off",
                        help="audit trail off, on, or both alternately (default %(default)s)")
    args = parser.parse_args()
    configure_logging("console", level=30)
    audits = {"off": (False,), "on": (True,), "both": (False, True)}[args.audit]
    rates = measure(args.runs, audits)
    for audit, (wall, cpu) in rates.items():
        print(f"BatchCheck servicer path, {BATCH} digests/request, audit {'on' if audit else 'off'}: "
              f"{wall:,.0f} keys/s, {cpu:,.0f} keys per CPU-second (medians)")
    if len(rates) == 2:
        print(f"audit cost: {1 - rates[True][0] / rates[False][0]:.1%} of the throughput, "
              f"{1 - rates[True][1] / rates[False][1]:.1%} of keys per CPU-second")


if __name__ == "__main__":
    main()
