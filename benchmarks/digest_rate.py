"""Keyed digests per second on one core: what an enumerating member pays per guess (docs/security.md).

Canonical CN mobile numbers in sequence, digested with the network's Digester (keyed BLAKE2b,
personalised by type), as a member testing the phone space would; median of --runs runs.
Usage:
  python -m benchmarks.digest_rate [--runs 5] [--count 1000000]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret


def digests_per_second(count: int) -> float:
    """Storage keys of `count` consecutive CN mobile numbers per second of this thread's CPU time."""
    digester = Digester(NetworkSecret(secrets.token_bytes(32)))
    numbers = [f"+86138{n:08d}" for n in range(count)]
    started = time.thread_time()
    for number in numbers:
        digester.storage_key(EntityType.PHONE, number)
    return count / (time.thread_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args()
    rate = statistics.median(digests_per_second(args.count) for _ in range(args.runs))
    print(f"keyed digests: {rate:,.0f} per CPU-second (median of {args.runs} runs of {args.count:,})")


if __name__ == "__main__":
    main()
