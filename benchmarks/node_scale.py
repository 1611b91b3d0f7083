"""One node at scale, end to end: build a store of ENTRIES from a datagen feed, then serve and measure it.

Stages, each recorded in benchmarks/results/node_scale-<label>.json as it finishes (a re-run skips
the stages already recorded, so a failure late in a multi-hour run does not cost the build):

  feed     datagen's mixed CSV feed (~1.1 rows per entry) in WORKDIR, timed
  build    `risklist-load FEED --db STORE`: wall, CPU, peak RSS of the largest process and of the tree
  store    bytes on disk per entry, an entry being a listed subject (a key; "added" counts contributions)
  memory   node PSS with --workers 2 (benchmarks.node_memory), after BatchChecks touched every reader
  check    Check peak and p50/p99 at 50% of it (benchmarks.scale_check), BatchCheck of 1000 digests
  backup   Admin.Backup of the serving node (hard links) while Check clients run: time and latency bump;
           `risklist-admin verify` and `restore` (a full copy) times

The feed is deleted once the store is built (--keep-feed keeps it): a 300M feed is ~28 GB.
Usage (the 300M run of issue 13 needs ~55 GB free in WORKDIR at the build's peak):

    python -m benchmarks.node_scale --entries 300M --workdir /work/scale --label 300m
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from benchmarks import h2load, node_memory, scale_check
from benchmarks.backup_latency import CheckLoad, checks_between, timed_admin
from benchmarks.context import disk_bytes
from benchmarks.datagen import parse_count
from benchmarks.dataset import SOURCE, Dataset
from benchmarks.grpc_frames import encode_frame, method_path
from benchmarks.loader_memory import measured_load
from benchmarks.machine import describe_machine
from benchmarks.server_proc import start_server

RESULTS = Path(__file__).parent / "results"
BATCH = 1000
BATCH_CONNECTIONS = 4
BACKUP_CLIENTS = 4
IDLE_S = 5.0


def _feed(dataset: Dataset) -> dict[str, Any]:
    started = time.perf_counter()
    feed = dataset.ensure_feed()
    return {"seconds": round(time.perf_counter() - started, 1), "bytes": feed.stat().st_size}


def _build(dataset: Dataset) -> dict[str, Any]:
    if dataset.store.exists():
        raise SystemExit(f"{dataset.store} exists but no build is recorded: remove it or choose another --label")
    return measured_load(dataset.feed, dataset.store, dataset.secret_file, SOURCE)


def _store(dataset: Dataset, entries: int) -> dict[str, Any]:
    files = [path for path in dataset.store.rglob("*") if path.is_file()]
    total = sum(path.stat().st_size for path in files)
    sst = sum(path.stat().st_size for path in files if path.suffix == ".sst")
    front = dataset.store / "risklist-front.bin"
    front_bytes = front.stat().st_size if front.exists() else 0
    return {"entries": entries, "bytes": total, "sst_bytes": sst, "sst_files": sum(p.suffix == ".sst" for p in files),
            "front_bytes": front_bytes, "bytes_per_entry": round(total / entries, 1),
            "sst_bytes_per_entry": round(sst / entries, 1)}


def _batch_check(dataset: Dataset, duration: float) -> dict[str, Any]:
    """Closed-loop BatchCheck of 1000 random digests (misses: the common case at payment time)."""
    with tempfile.TemporaryDirectory(prefix="risklist-scale-batch-") as scratch, \
            start_server(dataset.store, dataset.secret_file, workers=2) as server:
        work = Path(scratch)
        body = work / "batch.bin"
        subjects = [pb.Subject(type=1 + n % 4, digest=secrets.token_bytes(16)) for n in range(BATCH)]
        body.write_bytes(encode_frame(pb.BatchCheckRequest(subjects=subjects)))
        url = f"http://{server.address}{method_path('risklist.v1.RiskList', 'BatchCheck')}"
        result = h2load.run(url, [h2load.Job(body, BATCH_CONNECTIONS, 1)], duration=duration, warmup=1,
                            workdir=work / "h2load")
    return {"batch": BATCH, "connections": BATCH_CONNECTIONS, "rpc_per_s": round(result.rps, 1),
            "keys_per_s": round(result.rps * BATCH), "p50_ms": result.latency.p50_ms,
            "p99_ms": result.latency.p99_ms, "failed": result.failed, "h2load_cpu_s": round(result.cpu_s, 1)}


def _check(dataset: Dataset, duration: float) -> dict[str, Any]:
    single = scale_check.measure(dataset, 2, duration)
    single.pop("machine", None)
    return {"check": single, "batch_check": _batch_check(dataset, duration)}


def _backup(dataset: Dataset, workdir: Path) -> dict[str, Any]:
    """Online backup under Check load (hard links: same file system), then verify and restore (copies)."""
    backup, restored = workdir / "backup", workdir / "restored"
    for path in (backup, restored):
        shutil.rmtree(path, ignore_errors=True)
    keys = dataset.queries(20_000).keys
    try:
        with start_server(dataset.store, dataset.secret_file, workers=2) as server, \
                grpc.insecure_channel(server.admin_address) as channel, \
                CheckLoad(server.address, keys, BACKUP_CLIENTS) as load:
            time.sleep(IDLE_S)
            started = time.perf_counter()
            response = pb_grpc.AdminStub(channel).Backup(pb.BackupRequest(directory=str(backup)), timeout=7200)
            ended = time.perf_counter()
            time.sleep(IDLE_S)
        first = min(start for start, _ in load.samples)
        verify_s = timed_admin("verify", str(backup))
        restore_s = timed_admin("restore", "--from", str(backup), "--db", str(restored),
                           "--secret-file", str(dataset.secret_file))
        return {"backup_s": round(ended - started, 2), "backup_bytes": response.bytes, "backup_files": response.files,
                "checks_idle": checks_between(load.samples, first + 0.5, first + IDLE_S),
                "checks_during_backup": checks_between(load.samples, started, ended), "check_failures": load.failures,
                "verify_s": verify_s, "restore_s": restore_s, "restored_bytes": disk_bytes(restored)}
    finally:
        for path in (backup, restored):
            shutil.rmtree(path, ignore_errors=True)


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def report(result: dict[str, Any]) -> str:
    """The recorded stages as a Markdown table (what RESULTS.md quotes)."""
    stages = result["stages"]
    lines = ["| figure | value |", "| --- | --- |"]
    if feed := stages.get("feed"):
        lines.append(f"| feed (datagen) | {feed['bytes'] / 1e9:.1f} GB CSV, generated in {feed['seconds']:,.0f} s |")
    if build := stages.get("build"):
        stages_s = build["stages_s"]  # "validated" is logged after the ordering, and counts it
        pass_1 = stages_s["validated"] - stages_s["ordered"]
        lines.append(f"| build (`risklist-load --db`) | {build['rows']:,} rows in {build['seconds']:,.0f} s "
                     f"({build['rows_per_s']:,} rows/s: pass 1 {pass_1:,.0f} s, ordering {stages_s['ordered']:,.0f} s, "
                     f"records {stages_s['bulk_built']:,.0f} s); {build['cpu_s']:,.0f} s CPU |")
        lines.append(f"| loader peak RSS | {build['peak_rss_largest_mib']:,.0f} MiB largest process, "
                     f"{build['peak_rss_tree_mib']:,.0f} MiB all processes |")
    if store := stages.get("store"):
        lines.append(f"| store on disk | {store['bytes'] / 1e9:.2f} GB for {store['entries']:,} entries: "
                     f"{store['bytes_per_entry']} B/entry ({store['sst_bytes_per_entry']} B in {store['sst_files']} "
                     f"SST files); front file {_mib(store['front_bytes'])} |")
    if memory := stages.get("memory"):
        roles = ", ".join(f"{process['role']} {process['pss_mib']:,.0f}" for process in memory["processes"])
        lines.append(f"| node PSS, 2 readers | {memory['pss_sum_mib']:,.0f} MiB ({roles}); RSS sum "
                     f"{memory['rss_sum_mib']:,.0f} MiB |")
    if check := stages.get("check"):
        single, batch = check["check"], check["batch_check"]
        half = single["half_peak"]["latency_ms"]
        lines.append(f"| Check (h2load, client digests, 99% misses) | peak {single['peak']['rps']:,} RPC/s; at 50% "
                     f"({single['half_peak']['rps']:,} RPC/s): p50 {half['p50_ms']:.2f} ms, "
                     f"p99 {half['p99_ms']:.2f} ms, p99.9 {half['p99.9_ms']:.2f} ms; "
                     f"server start {single['server_startup_s']} s |")
        lines.append(f"| BatchCheck of {batch['batch']} digests (h2load, {batch['connections']} connections) | "
                     f"{batch['keys_per_s']:,} keys/s ({batch['rpc_per_s']:,} RPC/s), p50 {batch['p50_ms']:.2f} ms, "
                     f"p99 {batch['p99_ms']:.2f} ms, {batch['failed']} failed |")
    if backup := stages.get("backup"):
        idle, during = backup["checks_idle"], backup["checks_during_backup"]
        lines.append(f"| online backup (hard links) | {backup['backup_s']} s, "
                     f"{backup['backup_bytes'] / 1e9:.2f} GB in {backup['backup_files']} files; "
                     f"Check p99 {idle.get('p99_ms')} ms idle, {during.get('p99_ms')} ms during "
                     f"({during.get('calls')} calls), {backup['check_failures']} failed |")
        lines.append(f"| `risklist-admin verify` / `restore` (a full copy) | {backup['verify_s']} s / "
                     f"{backup['restore_s']} s ({backup['restored_bytes'] / 1e9:.2f} GB) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.node_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=parse_count, required=True)
    parser.add_argument("--workdir", type=Path, required=True, help="where the feed, the store and backups go")
    parser.add_argument("--label", required=True)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each h2load measurement")
    parser.add_argument("--keep-feed", action="store_true")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    dataset = Dataset(args.entries, seed=1, root=args.workdir.absolute())
    path = RESULTS / f"node_scale-{args.label}.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {
        "name": "node_scale", "params": {"entries": args.entries, "workdir": str(args.workdir), "workers": 2},
        "machine": describe_machine(), "stages": {}}
    stages: dict[str, Any] = result["stages"]

    def stage(name: str, run: Callable[[], dict[str, Any]]) -> None:
        if name in stages:
            return
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        stages[name] = {"started": started, **run()}
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"{name}: {json.dumps(stages[name])}", flush=True)

    if "build" not in stages:
        stage("feed", lambda: _feed(dataset))
    stage("build", lambda: _build(dataset))
    if not args.keep_feed:
        dataset.feed.unlink(missing_ok=True)
    stage("store", lambda: _store(dataset, stages["build"].get("listed_keys") or args.entries))
    stage("memory", lambda: node_memory.measure(dataset, 2))
    stage("check", lambda: _check(dataset, args.duration))
    stage("backup", lambda: _backup(dataset, args.workdir))
    print(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
