"""What normalising one raw value costs the server, plain and pathological, and what warming the rules up costs.

The figures behind the subjects quota's charge for raw values (risklist_server.core.subject_cost, docs/operations.md
"Quotas"): a raw value costs 8 subjects (16 us) up front and, beyond that, the CPU it took. For each example, the
median over --runs runs of this thread's CPU per normalise() call (valid or not: rejecting can cost as much), after
Normaliser.warm_up, whose own time is measured first in a fresh Normaliser. Usage:

    python -m benchmarks.normalise_cost [--runs 5] [--calls 200]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

from risklist_kernel.enums import EntityType
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser

EXAMPLES = (
    ("plain IPv4", EntityType.IP, "192.0.2.1"),
    ("plain e-mail", EntityType.EMAIL, "user@example.cn"),
    ("CN mobile", EntityType.PHONE, "138 0013 8000"),
    ("UK phone (no fast path)", EntityType.PHONE, "+44 20 7946 0958"),
    ("card failing Luhn", EntityType.CARD, "4111 1111 1111 1112"),
    ("e-mail, 240-character IDNA domain", EntityType.EMAIL, "user@" + "ü" * 236 + ".cn"),
)


def cpu_per_call(normaliser: Normaliser, entity_type: EntityType, raw: str, calls: int) -> float:
    """Microseconds of this thread's CPU per normalise() of `raw`."""
    started = time.thread_time()
    for _ in range(calls):
        with contextlib.suppress(InvalidIdentifier):
            normaliser.normalise(entity_type, raw)
    return (time.thread_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    normaliser = Normaliser()
    normaliser.warm_up()
    print(f"warm_up: {(time.perf_counter() - started) * 1e3:.1f} ms (the first in this process: tables loaded)")
    for name, entity_type, raw in EXAMPLES:
        runs = [cpu_per_call(normaliser, entity_type, raw, args.calls) for _ in range(args.runs)]
        median = statistics.median(runs)
        print(f"{name:36} {median:8.1f} us  ({median / 2:7.1f} subjects at 2 us a subject)")


if __name__ == "__main__":
    main()
