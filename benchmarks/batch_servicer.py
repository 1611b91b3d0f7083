"""The BatchCheck servicer path in-process (no network): protobuf in, verdicts out, keys/s.

1000 client digests per request, all misses, an empty store (so the figure is the cost of
conversion, resolution and the front, not of RocksDB). Median of --runs runs. Usage:
  python -m benchmarks.batch_servicer [--runs 7]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time

import grpc
from risklist.v1 import risklist_pb2 as pb

from server.core.digest import Digester
from server.core.identifiers import Normaliser
from server.core.secret import NetworkSecret
from server.core.subject import SubjectResolver
from server.logs import configure_logging
from server.lookup import LookupService
from server.rpc.risklist_servicer import RiskListServicer
from server.store.risk_store import RiskStore

BATCH = 1000
REQUESTS = 20


class _Context:
    """The two ServicerContext methods BatchCheck asks before working."""

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> float | None:
        return None


def measure(runs: int) -> float:
    """Median keys/s over `runs` runs of REQUESTS requests."""
    secret = NetworkSecret(secrets.token_bytes(32))
    requests = [  # as the server receives them: bytes
        pb.BatchCheckRequest(subjects=[
            pb.Subject(type=pb.ENTITY_TYPE_ACCOUNT, digest=secrets.token_bytes(16)) for _ in range(BATCH)
        ]).SerializeToString()
        for _ in range(REQUESTS)
    ]
    with tempfile.TemporaryDirectory() as directory:
        store = RiskStore(f"{directory}/db", secret_fingerprint=secret.fingerprint)
        try:
            lookup = LookupService(store, SubjectResolver(Normaliser("CN"), Digester(secret)), max_batch=BATCH)
            servicer = RiskListServicer(lookup, log_success=False)
            context: grpc.ServicerContext = _Context()  # type: ignore[assignment]
            rates = []
            for _ in range(runs):
                started = time.perf_counter()
                for request in requests:
                    servicer.BatchCheck(request, context)
                rates.append(BATCH * REQUESTS / (time.perf_counter() - started))
        finally:
            store.close()
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    configure_logging("console", level=30)
    print(f"BatchCheck servicer path, {BATCH} digests/request: {measure(args.runs):,.0f} keys/s (median)")


if __name__ == "__main__":
    main()
