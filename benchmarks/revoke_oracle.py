"""Does a Revoke's timing tell whether other partners list a subject? (issue 12, item 4)

A real one-worker server (--insecure-dev, caller `dev`); `bank-a` lists --subjects phones through
Admin.Ingest. Then `dev` revokes, one subject per call and alternating, a phone only bank-a lists
("others") and a phone nobody lists ("nobody"): both answer OK with not_listed 1. Printed per kind:
the median and the 10th/90th percentile of the call's latency, and the probability that an "others"
call is slower than a "nobody" call (0.5: the timings do not tell the two apart). Then the same for
ContributionService.revoke in-process on a real store (no grpc, no network: the writer's own work).
Usage:
  python -m benchmarks.revoke_oracle [--subjects 20000] [--calls 2000]
"""

from __future__ import annotations

import argparse
import bisect
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.core.settings import Settings
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.process.launch import launch
from risklist_server.services.contributions import ContributionService
from risklist_server.store.risk_store import RiskStore

BATCH = 5_000


def _phone(number: int) -> str:
    return f"+86138{number:08d}"


def _ingest(admin_address: str, secret: NetworkSecret, count: int) -> None:
    digester = Digester(secret)

    def requests() -> Iterator[pb.IngestRequest]:
        yield pb.IngestRequest(start=pb.IngestStart(source="bank-a", mode=pb.LOAD_MODE_DELTA,
                                                    secret_fingerprint=secret.fingerprint))
        for start in range(0, count, BATCH):
            yield pb.IngestRequest(batch=pb.IngestBatch(mutations=[pb.Mutation(
                action=pb.MUTATION_ACTION_ADD, type=pb.ENTITY_TYPE_PHONE,
                digest=digester.digest(EntityType.PHONE, _phone(n)), category=pb.CATEGORY_TELECOM_FRAUD,
                level=pb.RISK_LEVEL_HIGH, reported_at=Timestamp(seconds=int(time.time()) - 60),
                expires_at=Timestamp(seconds=4_000_000_000)) for n in range(start, min(start + BATCH, count))]))

    with grpc.insecure_channel(admin_address) as channel:
        pb_grpc.AdminStub(channel).Ingest(requests(), timeout=600)


def _alternating(calls: int, revoke: Callable[[str], int]) -> dict[str, list[float]]:
    """Seconds per call by kind; `revoke(phone)` must answer not_listed 1 for both kinds."""
    timings: dict[str, list[float]] = {"others": [], "nobody": []}
    for n in range(calls):
        for kind, phone in (("others", _phone(n)), ("nobody", _phone(50_000_000 + n)))[:: 1 if n % 2 else -1]:
            started = time.perf_counter()
            not_listed = revoke(phone)
            timings[kind].append(time.perf_counter() - started)
            assert not_listed == 1, f"{kind}: not_listed {not_listed}"
    return timings


def _report(title: str, timings: dict[str, list[float]]) -> None:
    print(title)
    for kind, values in timings.items():
        ordered = sorted(values)
        tenth, ninetieth = ordered[len(ordered) // 10], ordered[len(ordered) * 9 // 10]
        print(f"  {kind:>6}: median {statistics.median(values) * 1e6:8.1f} µs   "
              f"p10 {tenth * 1e6:8.1f} µs   p90 {ninetieth * 1e6:8.1f} µs   ({len(values)} calls)")
    nobody = sorted(timings["nobody"])
    slower = sum(bisect.bisect_left(nobody, value) + 0.5 * (bisect.bisect_right(nobody, value)
                                                            - bisect.bisect_left(nobody, value))
                 for value in timings["others"])
    print(f"  P(an 'others' call is slower than a 'nobody' call) = "
          f"{slower / (len(nobody) * len(timings['others'])):.3f}  (0.5: indistinguishable)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=20_000, help="phones bank-a lists")
    parser.add_argument("--calls", type=int, default=2_000, help="Revokes of each kind")
    args = parser.parse_args()
    secret = NetworkSecret(secrets.token_bytes(32))
    with tempfile.TemporaryDirectory(prefix="revoke-oracle-") as scratch:
        root = Path(scratch)
        secret_file = write_secret(root / "network.secret", secret)
        server = launch(root / "db", secret_file, ("--workers", "1", "--insecure-dev"), keep_log=False)
        try:
            _ingest(server.admin_address, secret, args.subjects)
            with grpc.insecure_channel(server.address) as channel:
                stub = pb_grpc.RiskListStub(channel)

                def over_grpc(phone: str) -> int:
                    subject = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=phone)
                    response: pb.RevokeResponse = stub.Revoke(pb.RevokeRequest(subjects=[subject]), timeout=10)
                    return response.not_listed

                _alternating(50, over_grpc)  # warm-up
                _report("Revoke over grpc (one worker, synced write path):",
                        _alternating(min(args.calls, args.subjects), over_grpc))
        finally:
            server.terminate()
        _in_process(root / "store", secret, args)


def _in_process(path: Path, secret: NetworkSecret, args: argparse.Namespace) -> None:
    resolver = SubjectResolver(Normaliser("CN"), Digester(secret))
    with RiskStore(path, create=True, secret_fingerprint=secret.fingerprint) as store:
        now = int(time.time())
        for start in range(0, args.subjects, BATCH):
            store.apply([Upsert(resolver.storage_key(Subject(int(EntityType.PHONE), _phone(n))),
                                Contribution("bank-a", Category.TELECOM_FRAUD, RiskLevel.HIGH, now - 60, now + 86_400))
                         for n in range(start, min(start + BATCH, args.subjects))])
        store.flush()
        service = ContributionService(store, resolver, Settings())

        def in_process(phone: str) -> int:
            return service.revoke("dev", [Subject(int(EntityType.PHONE), phone)], 0).not_listed

        _alternating(50, in_process)
        _report("ContributionService.revoke in-process (real store, WAL synced):",
                _alternating(min(args.calls, args.subjects), in_process))


if __name__ == "__main__":
    main()
