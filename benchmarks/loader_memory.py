"""The loader's memory at scale: peak RSS of the largest process and of the whole process tree, per load.

Loads a datagen feed (generated into benchmarks/data if missing, or --feed) with `risklist-load --db`
into a fresh store, then (with --delta-rows) a second feed of that many rows from another seed into
the same, now filled, store (the bulk merge). The process tree (the loader, its pass-1 workers,
partitioning, ordering and building processes) is sampled from /proc every 0.25 s; ru_maxrss gives
the largest single process exactly. Usage:

    python -m benchmarks.loader_memory --entries 100M [--delta-rows 10M] [--label after] [--keep]

Writes benchmarks/results/loader_memory-<label>.json and prints a table row per load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.datagen import parse_count
from benchmarks.dataset import Dataset
from benchmarks.machine import describe_machine
from benchmarks.procstats import TreeSampler
from benchmarks.scenarios.bulk_load import LOADER

RESULTS = Path(__file__).parent / "results"


def measured_load(feed: Path, store: Path, secret_file: Path, source: str) -> dict[str, Any]:
    """One `risklist-load FEED --db STORE`: wall, CPU, peak RSS (largest process and tree), its summary."""
    command = [LOADER, str(feed), "--source", source, "--db", str(store), "--secret-file", str(secret_file),
               "--quiet", "--log-format", "json"]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        sampler = TreeSampler(process.pid).start()
        _, status, usage = os.wait4(process.pid, 0)
        sampler.stop()
        seconds = time.perf_counter() - started
        log.seek(0)
        lines = log.read().decode("utf-8", "replace").splitlines()
    code = os.waitstatus_to_exitcode(status)
    events = [json.loads(line) for line in lines if line.startswith("{")]
    done = [event for event in events if event.get("event") == "load_done"]
    if code not in (0, 3) or not done:
        raise RuntimeError(f"risklist-load exited {code}:\n" + "\n".join(lines[-30:]))
    stages = {event["event"]: event.get("seconds") for event in events
              if event.get("event") in ("validated", "ordered", "bulk_built")}
    rows = int(done[0]["rows"])
    built = [event for event in events if event.get("event") == "bulk_built"]
    return {"feed": feed.name, "rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_largest_mib": round(usage.ru_maxrss / 1024, 1),
            "peak_rss_tree_mib": sampler.summary()["peak_rss_mib"], "stages_s": stages,
            "listed_keys": int(built[-1]["listed"]) if built else None,
            "summary": {key: done[0][key] for key in ("accepted", "added", "unchanged", "removed", "not_listed",
                                                      "list_version")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loader_memory", description=__doc__)
    parser.add_argument("--entries", default="10M", help="datagen entries of the first feed (default 10M)")
    parser.add_argument("--feed", type=Path, help="load this feed instead of generating one")
    parser.add_argument("--delta-rows", default="0", help="then merge a second feed of this many entries")
    parser.add_argument("--label", default="after")
    parser.add_argument("--workdir", type=Path, help="where the store goes (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the store")
    args = parser.parse_args(argv)
    dataset = Dataset(parse_count(args.entries), seed=1)
    feed = args.feed or dataset.ensure_feed()
    workdir = Path(tempfile.mkdtemp(prefix="loader-memory-", dir=args.workdir))
    store = workdir / "store"
    loads = [measured_load(feed, store, dataset.secret_file, "bench-bank")]
    delta = parse_count(args.delta_rows)
    if delta:
        second = Dataset(delta, seed=2)
        loads.append(measured_load(second.ensure_feed(), store, dataset.secret_file, "bench-bank-2"))
    if not args.keep:
        shutil.rmtree(workdir)
    document = {"name": "loader_memory", "command": " ".join(["python -m benchmarks.loader_memory", *sys.argv[1:]]),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": describe_machine(),
                "loads": loads}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"loader_memory-{args.label}.json").write_text(json.dumps(document, indent=2) + "\n")
    print("| feed | rows | wall | rows/s | CPU | peak RSS, largest process | peak RSS, all processes |")
    for load in loads:
        print(f"| {load['feed']} | {load['rows']:,} | {load['seconds']} s | {load['rows_per_s']:,} | {load['cpu_s']} s"
              f" | {load['peak_rss_largest_mib']} MiB | {load['peak_rss_tree_mib']} MiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
