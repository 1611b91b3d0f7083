"""What every scenario of one harness invocation shares: settings, data, peers and client processes."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rocksdict import AccessType, Options, Rdict

from benchmarks.dataset import Dataset, Queries, copy_store
from benchmarks.loadgen import ClientPool, LoadResult, Workload
from benchmarks.redis_peer import RedisServer, chunked
from benchmarks.server_proc import RunningServer, start_server, supports_workers
from risklist_server.store.rocks import iter_items


@dataclass(frozen=True)
class Settings:
    """How long and how hard each measurement runs (quick and full presets below)."""

    duration: float
    warmup: float
    queries: int
    batch_sizes: tuple[int, ...] = (10, 100, 1000)
    check_levels: tuple[tuple[int, int], ...] = ((2, 1), (2, 4), (4, 16))
    """Closed-loop h2load levels: (connections per body, streams per connection). At least 8
    connections in all: SO_REUSEPORT hashes connections to workers, and 4 often split 3:1."""
    check_bodies: int = 4
    open_fractions: tuple[float, ...] = (0.5, 0.8)
    worker_counts: tuple[int, ...] = (1, 2)
    client_processes: int = 2
    client_threads: int = 4
    stream_sizes: tuple[int, ...] = (1, 100)
    stream_depth: int = 2
    live_entries: int = 50_000
    live_idle_seconds: float = 3.0
    live_probe_threads: int = 2
    live_sample: int = 64
    inprocess_seconds: float = 1.0


QUICK = Settings(duration=1.5, warmup=0.3, queries=20_000, check_levels=((2, 1), (4, 8)),
                 live_entries=20_000, live_idle_seconds=1.5, inprocess_seconds=0.3)
FULL = Settings(duration=10.0, warmup=2.0, queries=200_000, live_entries=500_000, live_idle_seconds=5.0)


@dataclass
class Context:
    """One harness invocation's shared state; `run` is the current run's number (from 1)."""

    settings: Settings
    dataset: Dataset
    queries: Queries
    workdir: Path
    clients: ClientPool
    redis: RedisServer | None
    run: int = 1
    notes: list[str] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)
    _serial: Iterator[int] = field(default_factory=itertools.count)

    @property
    def store(self) -> Path:
        return self.dataset.store

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def worker_counts(self) -> tuple[int, ...]:
        """Worker counts to compare; just 1 when the server cannot fork workers."""
        if supports_workers():
            return self.settings.worker_counts
        self.note("risklist-server has no --workers/--metrics-listen: measured one process only, "
                  "and gRPC statuses were not counted server-side")
        return (1,)

    def serving_workers(self) -> int | None:
        """The worker count for scenarios that are not about workers: the server's default."""
        return None

    def server(self, workers: int | None = None) -> RunningServer:
        """A server over a private copy of the store (its writes never reach the cached store)."""
        copy = copy_store(self.store, self.workdir / f"store-copy-{next(self._serial)}")
        return start_server(copy, self.dataset.secret_file, workers=workers)

    def memoised(self, key: str, measure: Callable[[], Any]) -> Any:
        """A peer figure measured once per run (later scenarios of the same run reuse it)."""
        full_key = f"run{self.run}:{key}"
        if full_key not in self.memo:
            self.memo[full_key] = measure()
        return self.memo[full_key]

    def load(self, work: Workload, *, threads: int | None = None) -> LoadResult:
        """Run a closed-loop Python client workload with this run's durations."""
        return self.clients.run(work, threads=threads or self.settings.client_threads,
                                duration=self.settings.duration, warmup=self.settings.warmup)


def store_items(path: Path, chunk: int = 100_000) -> Iterator[list[tuple[bytes, bytes]]]:
    """Every (key, record) of a store's records, read-only, in chunks."""
    db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        yield from chunked(iter_items(db), chunk)
    finally:
        db.close()


def disk_bytes(path: Path) -> int:
    """Bytes of every file under `path`."""
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def cpu_count() -> int:
    return os.cpu_count() or 1
