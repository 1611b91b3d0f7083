"""Loads refused a moment after their workers start, over and over: does any of them hang?

A load of a worker-sized feed (over 16 MiB, so pass 1 runs on worker processes) into a store another process
holds is refused while its workers validate (the store is opened then). With multiprocessing.Pool the refusal's
termination could race the pool's worker-handler thread and wait forever (risklist_loader.worker_pool); this
runs `--runs` such loads, each with a 60 s limit, beside `--busy` processes spinning on the CPU (the race wants a
loaded machine), and counts the loads that did not end. A hung load's processes are shown (py-spy, if installed)
and killed. Usage:

    python -m benchmarks.refused_loads [--runs 400] [--busy 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.dataset import Dataset
from benchmarks.scenarios.bulk_load import LOADER
from risklist_server.store.risk_store import RiskStore

LIMIT_S = 60.0
SPIN = "while True: pass"


def refused_load(feed: Path, store: Path, secret_file: Path, scratch: Path) -> float | None:
    """One load into the held `store`: its seconds, or None when it hung (its processes then killed)."""
    started = time.monotonic()
    process = subprocess.Popen([LOADER, str(feed), "--source", "bench-bank", "--db", str(store), "--secret-file",
                                str(secret_file), "--quiet", "--log-format", "json"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               env={**os.environ, "TMPDIR": str(scratch)})
    try:
        code = process.wait(timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if Path(spy).exists():
            subprocess.run([spy, "dump", "--subprocesses", "--pid", str(process.pid)], check=False)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None
    if code != 1:
        raise RuntimeError(f"the load into a held store exited {code}, not 1 (refused)")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--busy", type=int, default=2, help="processes spinning on the CPU meanwhile (default 2)")
    args = parser.parse_args()
    dataset = Dataset(entries=200_000, seed=7)
    feed = dataset.ensure_feed()
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.busy)]
    seconds: list[float] = []
    hangs = 0
    try:
        with tempfile.TemporaryDirectory(prefix="refused-loads-") as work:
            root = Path(work)
            (root / "scratch").mkdir()
            secret = dataset.secret_file
            with RiskStore(root / "db", create=True, secret_fingerprint=dataset.secret.fingerprint):  # held
                for _ in range(args.runs):
                    took = refused_load(feed, root / "db", secret, root / "scratch")
                    if took is None:
                        hangs += 1
                    else:
                        seconds.append(took)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    seconds.sort()
    median = seconds[len(seconds) // 2] if seconds else float("nan")
    print(f"{args.runs} refused loads beside {args.busy} busy processes: {hangs} hung (over {LIMIT_S:g} s); "
          f"the others ended in {median:.2f} s (median), {seconds[-1] if seconds else float('nan'):.2f} s at most")


if __name__ == "__main__":
    main()
