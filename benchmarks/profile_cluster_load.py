"""Where a load (or Reports) through a cluster spends its time: py-spy on two nodes while the writes run.

Starts three nats-servers (tools/local_nats.py) and three nodes of one worker each on empty stores, records
node 1 (the one the load goes through) and node 2 (a follower) with `py-spy record --subprocesses` (raw, 50 Hz)
while the harness's live-load feed is loaded through node 1's admin address, then prints each node's busiest
functions (samples in idle waits left out). Needs py-spy (`pip install py-spy`) and the harness's cached data
(`make bench-quick` makes it). With `--reports SECONDS`, 8 client threads send Reports of distinct subjects to
node 1 for that long instead of the load. Usage:
  python -m benchmarks.profile_cluster_load [--out DIR] [--reports SECONDS]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from benchmarks.dataset import DATA
from benchmarks.scenarios.cluster import _report
from benchmarks.server_proc import start_server
from tools.local_nats import NatsCluster

SECRET = DATA / "bench-seed1.secret"
FEED = DATA / "feed-live-500k-seed1001.csv"
BIN = Path(sys.executable).parent
IDLE = ("select", "epoll", "wait (threading", "sigwait", "poll (", "sleep", "_serve (grpc", "_relay (")
"""Leaf frames of threads waiting (grpc's completion-queue poll and the handshake log relay count as waiting)."""


def busiest(raw: Path, top: int = 15) -> list[tuple[int, str]]:
    """(samples, function) of the `top` functions by inclusive busy samples in a py-spy raw file."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = stack.split(";")
        if not frames or any(idle in frames[-1] for idle in IDLE):
            continue
        for function in {frame.split(":")[0] for frame in frames}:
            if not function.startswith(("process ", "Thread.", "_WorkItem.", "_worker (")):
                counts[function] += int(samples)
    return [(samples, function) for function, samples in counts.most_common(top)]


def _report_storm(address: str, seconds: float, threads: int = 8) -> int:
    """Reports of distinct subjects from `threads` client threads to `address` for `seconds`; how many were OK."""
    deadline = time.monotonic() + seconds
    done = [0] * threads

    def send(number: int) -> None:
        with grpc.insecure_channel(address) as channel:
            stub = pb_grpc.RiskListStub(channel)
            sent = 0
            while time.monotonic() < deadline:
                stub.Report(_report(number * 10_000_000 + sent), timeout=10)
                sent += 1
            done[number] = sent

    workers = [threading.Thread(target=send, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()), help="where the raw profiles go")
    parser.add_argument("--reports", type=float, help="send Reports for this many seconds instead of the load")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="profile-cluster-"))
    nats = NatsCluster.create(root / "nats")
    nodes = []
    try:
        nats.start()
        for number in (1, 2, 3):
            nodes.append(start_server(root / f"node-{number}", SECRET, workers=1, extra=(
                "--cluster", ",".join(nats.urls), "--node-id", f"node-{number}", "--log-max-bytes", "1G")))
        raws = [args.out / f"cluster-load-node{number}.txt" for number in (1, 2)]
        spies = [subprocess.Popen([str(BIN / "py-spy"), "record", "--subprocesses", "-r", "50", "-f", "raw", "-o",
                                   str(raw), "-p", str(node.process.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for raw, node in zip(raws, nodes, strict=False)]
        started = time.perf_counter()
        if args.reports:
            print(f"reports: {_report_storm(nodes[0].address, args.reports)} in {args.reports:g} s")
        else:
            subprocess.run([str(BIN / "risklist-load"), "--source", "bench", "--mode", "delta", "--server",
                            nodes[0].admin_address, "--insecure", "--secret-file", str(SECRET), "--quiet", str(FEED)],
                           check=False)
            print(f"load: {time.perf_counter() - started:.1f} s")
        for spy in spies:
            spy.send_signal(2)
            spy.wait()
        for raw in raws:
            print(f"\n{raw}:")
            for samples, function in busiest(raw):
                print(f"{samples:7d}  {function}")
    finally:
        for node in nodes:
            node.stop()
        nats.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
