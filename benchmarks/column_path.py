"""CPU per line of pass 1's column path (risklist_loader.vector_rows) on a datagen feed, in this process.

Reads the first --bytes of the feed, cuts it into 8 MiB ranges of whole lines with pass 1's own split, and times
ColumnRows.rows over all of them --runs times (time.process_time: this process's CPU, so other work on the
machine disturbs it less than wall time). Prints the minimum per line. No spool, no digests of left-over
lines: this measures only what the column path decides and what it leaves. Usage:

    python -m benchmarks.column_path [--feed F.csv] [--bytes 40M] [--runs 5]

Without --feed, the harness's 2M-entry feed (benchmarks/data, generated if missing).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.datagen import parse_count
from benchmarks.dataset import Dataset
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.fast_rows import FastRows
from risklist_loader.parallel import split
from risklist_loader.vector_rows import ColumnRows
from risklist_server.core.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", type=Path)
    parser.add_argument("--bytes", default="40M", help="how much of the feed to read (default 40M)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    feed = args.feed or Dataset(entries=2_000_000, seed=1).ensure_feed()
    with feed.open("rb") as stream:
        data = stream.read(parse_count(args.bytes))
    header, _, rest = data.partition(b"\n")
    rest = rest[: rest.rfind(b"\n") + 1]
    data_start = len(header) + 1
    pieces = [data[start:end] for start, end in split(feed, data_start, data_start + len(rest))]  # as pass 1 cuts
    columns = tuple(header.decode().split(","))
    fast = FastRows(columns, Normaliser(), NetworkSecret(bytes(range(32))), Settings(), now=int(time.time()))
    column_rows = ColumnRows(columns, fast)
    lines = rest.count(b"\n")
    seconds = []
    for _ in range(args.runs):
        started = time.process_time()
        left = sum(len(column_rows.rows(piece).left_over) for piece in pieces)
        seconds.append(time.process_time() - started)
    print(f"{feed.name}: {lines:,} lines, {min(seconds) / lines * 1e6:.2f} us of CPU per line (min of {args.runs}), "
          f"{left:,} left over to the per-row paths")


if __name__ == "__main__":
    main()
