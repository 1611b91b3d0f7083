"""Scenario 4: a datagen CSV feed through `risklist-load --db`, against Redis pipelined SET of the same keys."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.context import Context, disk_bytes, store_items
from benchmarks.dataset import SOURCE, Dataset
from benchmarks.results import ScenarioResult, peer_figures
from benchmarks.stats import ratio

LOADER = str(Path(sys.executable).parent / "risklist-load")


@dataclass(frozen=True, slots=True)
class LoadRun:
    """One risklist-load process: rows, wall seconds, its CPU and peak RSS (with its children)."""

    rows: int
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    exit_code: int
    summary: dict[str, object]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run_loader(feed: Path, secret_file: Path, *target: str, source: str = SOURCE) -> LoadRun:
    """Run risklist-load on `feed` to `target` (--db PATH or --server ADDR); raise unless it applied."""
    command = [LOADER, str(feed), "--source", source, "--secret-file", str(secret_file), "--quiet",
               "--log-format", "json", *target]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    assert process.stderr is not None
    with process.stderr:
        log = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    summary: dict[str, object] = {}
    for line in log.decode("utf-8", "replace").splitlines():
        if line.startswith("{") and '"load_done"' in line:
            summary = json.loads(line)
    if process.returncode not in (0, 3) or not summary:
        raise RuntimeError(f"risklist-load exited {process.returncode}:\n{log.decode('utf-8', 'replace')[-3000:]}")
    rows = summary.get("rows")
    # ru_maxrss is in KiB on Linux: the largest of the loader and its waited-for children.
    return LoadRun(int(rows) if isinstance(rows, int) else 0, seconds, usage.ru_utime + usage.ru_stime,
                   usage.ru_maxrss * 1024, process.returncode, summary)


def build_store(dataset: Dataset, target: Path) -> LoadRun:
    """Load the data set's feed into a fresh store at `target`."""
    if target.exists():
        shutil.rmtree(target)
    return run_loader(dataset.ensure_feed(), dataset.secret_file, "--db", str(target))


def ensure_store(ctx_dataset: Dataset, workdir: Path) -> LoadRun | None:
    """Build the cached store if it is missing (returning that load), else None."""
    if ctx_dataset.store.exists():
        return None
    fresh = workdir / "store-build"
    load = build_store(ctx_dataset, fresh)
    shutil.move(fresh, ctx_dataset.store)
    return load


def redis_load(ctx: Context, store: Path) -> tuple[int, float]:
    """Flush Redis and SET every (key, record) of `store` with pipelines; (keys, seconds)."""
    assert ctx.redis is not None
    ctx.redis.flush()
    return ctx.redis.load(store_items(store))


def run(ctx: Context) -> list[ScenarioResult]:
    """Load the feed into a fresh store (the cached store's first build counts as run 1's load)."""
    first_build = ctx.memo.pop("store_build", None)
    if isinstance(first_build, LoadRun):
        load, store = first_build, ctx.store
    else:
        store = ctx.workdir / "store-bulk-load"
        load = build_store(ctx.dataset, store)
    size = disk_bytes(store)
    peers: dict[str, dict[str, object]] = {}
    ratios: dict[str, float] = {}
    extra: dict[str, object] = {"loader": {"cpu_s": round(load.cpu_seconds, 2),
                                           "peak_rss_mib": round(load.peak_rss_bytes / 2**20, 1),
                                           "cores_used": round(load.cpu_seconds / load.seconds, 2)},
                                "store_disk_mib": round(size / 2**20, 1), "exit_code": load.exit_code,
                                "summary": {key: load.summary.get(key) for key in
                                            ("rows", "accepted", "rejected", "added", "unchanged", "seconds")}}
    if ctx.redis is not None:
        cpu_before = ctx.redis.sampler.cpu_seconds()
        keys, seconds = ctx.memoised("redis_load", lambda: redis_load(ctx, store))
        ctx.redis.sampler.sample()
        keys_per_s = keys / seconds if seconds else 0.0
        peers["redis_pipelined_set"] = peer_figures(
            keys_per_s, "keys/s", keys=keys, used_memory_mib=round(ctx.redis.used_memory_bytes() / 2**20, 1),
            server_cpu_s=round(ctx.redis.sampler.cpu_seconds() - cpu_before, 2),
            server_peak_rss_mib=round(ctx.redis.sampler.peak_tree_rss_bytes / 2**20, 1))
        ratios["vs redis pipelined SET"] = ratio(load.rows_per_s, keys_per_s)
    if store != ctx.store:
        shutil.rmtree(store, ignore_errors=True)
    return [ScenarioResult("bulk_load", "bulk_load", {"entries": ctx.dataset.entries, "rows": load.rows,
                                                      "target": "--db"},
                           load.rows_per_s, "rows/s", None, peers, ratios, extra)]
