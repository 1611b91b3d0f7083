"""When a load uses its cores: the CPU of every process of one `risklist-load --db` over time, from /proc.

Runs the loader on a datagen feed (the harness's 2M-entry feed unless --feed) into a fresh store in its own
session, and every 0.25 s adds up the CPU time of every process in that session (the loader, its forkserver
and workers). Prints the loader's stage lines (load_started, validated, ordered, bulk_built, load_done), the
cores in use per interval (a process that ends within one is missed for it), and the seconds spent on less than
1.5 cores: where a 2-core machine idles. Usage:

    python -m benchmarks.loader_timeline [--feed F.csv] [--interval 0.25]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.dataset import SOURCE, Dataset
from benchmarks.scenarios.bulk_load import LOADER

STAGES = ("load_started", "ordered", "validated", "bulk_built", "bulk_ingested", "load_done")


def session_cpu(session: int) -> dict[int, float]:
    """User + system CPU seconds of each process whose session id is `session`, by pid."""
    seconds: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue  # ended between the listing and the read
        if int(fields[3]) == session:
            seconds[int(name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", type=Path)
    parser.add_argument("--interval", type=float, default=0.25)
    args = parser.parse_args()
    dataset = Dataset(entries=2_000_000, seed=1)
    feed = args.feed or dataset.ensure_feed()
    with tempfile.TemporaryDirectory(prefix="loader-timeline-") as scratch:
        log_path = Path(scratch) / "log"
        command = [LOADER, str(feed), "--source", SOURCE, "--db", str(Path(scratch) / "store"), "--secret-file",
                   str(dataset.secret_file), "--quiet", "--log-format", "json"]
        started = time.perf_counter()
        with log_path.open("w") as log:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        samples: list[tuple[float, float]] = []
        before: dict[int, float] = {}
        while process.poll() is None:
            time.sleep(args.interval)
            now = session_cpu(process.pid)  # the loader leads its session: its pid is the session id
            # A process that ended within the interval is missing from `now`: its last CPU goes uncounted.
            used = sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())
            samples.append((time.perf_counter() - started, used / args.interval))
            before = now
        events = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    if process.returncode not in (0, 3):
        raise SystemExit(f"risklist-load exited {process.returncode}")
    for event in events:
        if event.get("event") in STAGES:
            print(f"{event['timestamp'][11:23]}  {event['event']:<14} {event.get('seconds', '')}")
    print(" ".join(f"{at:.2f}:{cores:.1f}" for at, cores in samples))
    idle = sum(args.interval for _, cores in samples if cores < 1.5)
    print(f"wall {time.perf_counter() - started:.2f} s; {idle:.2f} s of it on less than 1.5 cores")


if __name__ == "__main__":
    main()
