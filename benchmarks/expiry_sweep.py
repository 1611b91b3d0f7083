"""How fast the writer's expiry sweep reads the records: `python -m benchmarks.expiry_sweep [--records N]`."""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.store.risk_store import RiskStore

FAR_FUTURE = 4_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--slice", type=int, default=10_000, help="records per slice (expiry_sweep_slice)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, \
            RiskStore(directory + "/db", create=True, secret_fingerprint="bench") as store:
        for _ in range(0, args.records, 10_000):
            store.apply([Upsert(bytes((3,)) + secrets.token_bytes(16),
                                Contribution("bank-a", Category.OTHER, RiskLevel.LOW, 1, FAR_FUTURE, "REF-1"))
                         for _ in range(10_000)])
        store.flush()
        started, start, scanned, slices = time.perf_counter(), None, 0, 0
        while True:  # a full cycle, nothing expired: the cost of reading and decoding every record
            done = store.purge_expired(start, args.slice, FAR_FUTURE - 1)
            scanned, start, slices = scanned + done.scanned, done.next_key, slices + 1
            if start is None:
                break
        elapsed = time.perf_counter() - started
    print(f"{scanned} records in {elapsed:.2f} s: {scanned / elapsed / 1000:.0f} k records/s, "
          f"{elapsed / slices * 1000:.1f} ms per slice of {args.slice}")


if __name__ == "__main__":
    main()
