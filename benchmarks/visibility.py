"""How long after Admin.Ingest acknowledges a write every reader worker answers LISTED.

Starts risklist-server --workers N on a fresh store, keeps CONNECTIONS connections open
(the kernel spreads them over the readers), then repeatedly lists a new phone number
through the admin address and polls every connection (all at once, round after round)
until all answer LISTED. Reports the distribution of (last connection LISTED −
acknowledgement). Usage:
  python -m benchmarks.visibility [--workers 2] [--writes 200] [--connections 16] [--quick]
The server runs with its default --catch-up-ms (10).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from benchmarks.machine import describe_machine
from benchmarks.server_proc import start_server
from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret, write_secret

RESULTS = Path(__file__).parent / "results" / "visibility.json"


def _phone(number: int) -> str:
    return f"+86139{number:08d}"


def _ingest(admin: pb_grpc.AdminStub, secret: NetworkSecret, phone: str) -> int:
    digest = Digester(secret).digest(EntityType.PHONE, phone)
    requests = [
        pb.IngestRequest(start=pb.IngestStart(source="bench-bank", mode=pb.LOAD_MODE_DELTA,
                                              secret_fingerprint=secret.fingerprint)),
        pb.IngestRequest(batch=pb.IngestBatch(mutations=[pb.Mutation(
            action=pb.MUTATION_ACTION_ADD, type=pb.ENTITY_TYPE_PHONE, digest=digest,
            category=pb.CATEGORY_TELECOM_FRAUD, level=pb.RISK_LEVEL_HIGH,
            reported_at=Timestamp(seconds=1_760_000_000), expires_at=Timestamp(seconds=4_000_000_000))])),
    ]
    response: pb.IngestResponse = admin.Ingest(iter(requests), timeout=10)
    return int(response.list_version)


def measure(workers: int, writes: int, connections: int) -> dict[str, object]:
    """Run the measurement on a fresh store; return the result object."""
    secret = NetworkSecret(secrets.token_bytes(32))
    with tempfile.TemporaryDirectory(prefix="risklist-visibility-") as directory:
        secret_file = Path(directory) / "secret"
        write_secret(secret_file, secret)
        with start_server(Path(directory) / "db", secret_file, workers=workers) as server:
            channels = [grpc.insecure_channel(server.address, options=[("grpc.use_local_subchannel_pool", 1)])
                        for _ in range(connections)]
            stubs = [pb_grpc.RiskListStub(channel) for channel in channels]
            admin_channel = grpc.insecure_channel(server.admin_address)
            admin = pb_grpc.AdminStub(admin_channel)
            delays_ms: list[float] = []
            try:
                for number in range(writes):
                    phone = _phone(number)
                    request = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=phone))
                    _ingest(admin, secret, phone)
                    acknowledged = time.perf_counter()
                    waiting = list(stubs)
                    while waiting:  # each round asks every waiting connection at once
                        pending = [(stub, stub.Check.future(request, timeout=10)) for stub in waiting]
                        waiting = [stub for stub, answer in pending if not answer.result().verdict.listed]
                    delays_ms.append((time.perf_counter() - acknowledged) * 1000)
            finally:
                for channel in [*channels, admin_channel]:
                    channel.close()
    delays_ms.sort()
    return {
        "name": "write_visibility",
        "params": {"workers": workers, "writes": writes, "connections": connections, "catch_up_ms": 10},
        "ms": {
            "p50": round(statistics.median(delays_ms), 2),
            "p90": round(delays_ms[int(0.9 * (len(delays_ms) - 1))], 2),
            "p99": round(delays_ms[int(0.99 * (len(delays_ms) - 1))], 2),
            "max": round(delays_ms[-1], 2),
        },
        "within_100_ms": sum(delay <= 100 for delay in delays_ms) / len(delays_ms),
        "machine": describe_machine(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="40 writes; results not written")
    args = parser.parse_args()
    result = measure(args.workers, 40 if args.quick else args.writes, args.connections)
    print(json.dumps(result, indent=2))
    if not args.quick:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
