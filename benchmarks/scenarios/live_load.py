"""Scenario 5: lookups while a feed loads through the admin port; time until new entries answer LISTED."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2 as pb

from benchmarks import datagen
from benchmarks.context import Context
from benchmarks.dataset import count_label
from benchmarks.results import ScenarioResult, latency_dict, peer_figures
from benchmarks.scenarios.bulk_load import run_loader
from benchmarks.scenarios.common import SERVICE, subject
from benchmarks.server_proc import RunningServer
from benchmarks.stats import ratio, summarise_ms
from risklist_kernel.enums import EntityType

LIVE_SOURCE = "bench-live"
VISIBILITY_CHANNELS = 8
VISIBILITY_TIMEOUT = 60.0


def live_feed(ctx: Context) -> Path:
    """A feed of new subjects (another seed: none of them in the store yet), cached."""
    entries, seed = ctx.settings.live_entries, ctx.dataset.seed + 1000
    path = ctx.dataset.root / f"feed-live-{count_label(entries)}-seed{seed}.csv"
    if not path.exists():
        partial = path.with_suffix(".partial.csv")
        datagen.write_csv(partial, datagen.generate_rows(entries, seed))
        partial.rename(path)
    return path


def sample_rows(feed: Path, count: int, today: date | None = None) -> list[tuple[str, str]]:
    """(entity type, identifier) of `count` rows spread evenly over the feed, last row first.

    Only rows with an explicit expiry a month or more ahead: a row whose default retention has
    already run out is stored but never answers LISTED, so it would never become visible.
    """
    cutoff = ((today or datetime.now(UTC).date()) + timedelta(days=31)).isoformat()
    rows = [fields for fields in (line.split(",") for line in feed.read_text(encoding="utf-8").splitlines()[1:])
            if fields[6] and fields[6][:10] >= cutoff]
    step = max(1, len(rows) // count)
    picked = [rows[-1 - offset] for offset in range(0, len(rows), step)][:count]
    return [(fields[1], fields[2]) for fields in picked]


@dataclass
class Probe:
    """Threads issuing Check one at a time, recording (start time, latency ms) until stopped."""

    server: RunningServer
    payloads: list[bytes]
    threads: int

    def __post_init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (start, latency ms); one append per call
        self.errors = 0
        self._stop = threading.Event()
        self._workers = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)]

    def _run(self, offset: int) -> None:
        with grpc.insecure_channel(self.server.address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(f"/{SERVICE}/Check")
            index = offset * 7919
            while not self._stop.is_set():
                payload = self.payloads[index % len(self.payloads)]
                index += 1
                started = time.perf_counter()
                try:
                    call(payload, timeout=10)
                except grpc.RpcError:
                    self.errors += 1
                    continue
                self.samples.append((started, (time.perf_counter() - started) * 1000.0))

    def start(self) -> Probe:
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()

    def window(self, begin: float, end: float) -> list[float]:
        """Latencies of calls started in [begin, end)."""
        return [latency for started, latency in self.samples if begin <= started < end]


def visibility_ms(server: RunningServer, subjects: list[pb.Subject], acknowledged: float) -> list[float]:
    """Per subject, ms from `acknowledged` until it answers LISTED on every probe connection
    (several connections, so every worker behind the shared port is asked); inf if never.

    Each sweep asks every connection about the whole sample in one BatchCheck, so a sweep
    costs a few RPCs and the resolution is one sweep (its duration is reported alongside).
    """
    channels = [grpc.insecure_channel(server.address, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(VISIBILITY_CHANNELS)]
    request = pb.BatchCheckRequest(subjects=subjects)
    try:
        calls = [channel.unary_unary(f"/{SERVICE}/BatchCheck",
                                     request_serializer=pb.BatchCheckRequest.SerializeToString,
                                     response_deserializer=pb.BatchCheckResponse.FromString)
                 for channel in channels]
        pending = {index: set(range(len(calls))) for index in range(len(subjects))}
        seen: dict[int, float] = {}
        while pending and time.perf_counter() - acknowledged < VISIBILITY_TIMEOUT:
            for number, call in enumerate(calls):
                for hit in call(request, timeout=10).hits:
                    if hit.index in pending:
                        pending[hit.index].discard(number)
            now = (time.perf_counter() - acknowledged) * 1000.0
            for index in [index for index, left in pending.items() if not left]:
                seen[index] = now
                del pending[index]
        return [seen.get(index, float("inf")) for index in range(len(subjects))]
    finally:
        for channel in channels:
            channel.close()


def listed_count(server: RunningServer, subjects: list[pb.Subject]) -> int:
    """How many of `subjects` answer LISTED right now."""
    with grpc.insecure_channel(server.address) as channel:
        call = channel.unary_unary(f"/{SERVICE}/BatchCheck",
                                   request_serializer=pb.BatchCheckRequest.SerializeToString,
                                   response_deserializer=pb.BatchCheckResponse.FromString)
        return len(call(pb.BatchCheckRequest(subjects=subjects), timeout=10).hits)


def _subjects(values: list[tuple[str, str]]) -> list[pb.Subject]:
    return [pb.Subject(type=int(EntityType.from_feed_name(type_name)), value=raw) for type_name, raw in values]


def run(ctx: Context) -> list[ScenarioResult]:
    """Idle lookups, then lookups during a --server load, then the wait until new entries are LISTED."""
    feed = live_feed(ctx)
    sample = _subjects(sample_rows(feed, ctx.settings.live_sample))
    payloads = [pb.CheckRequest(subject=subject(ctx.queries, index, "digest")).SerializeToString()
                for index in range(min(len(ctx.queries), 5000))]
    with ctx.server(ctx.serving_workers()) as server:
        already = listed_count(server, sample)  # 0: the sample is new to the store
        probe = Probe(server, payloads, ctx.settings.live_probe_threads).start()
        try:
            time.sleep(ctx.settings.warmup)  # connections made, code paths warm: not counted
            idle_from = time.perf_counter()
            time.sleep(ctx.settings.live_idle_seconds)  # the idle window is a fixed length of time
            load_from = time.perf_counter()
            load = run_loader(feed, ctx.dataset.secret_file, "--server", server.admin_address, "--insecure",
                              source=LIVE_SOURCE)
            acknowledged = time.perf_counter()
        finally:
            probe.stop()
        visible = visibility_ms(server, sample, acknowledged)
    idle = summarise_ms(probe.window(idle_from, load_from))
    during = summarise_ms(probe.window(load_from, acknowledged))
    idle_rate = idle.count / (load_from - idle_from)
    during_rate = during.count / (acknowledged - load_from)
    finite = [value for value in visible if value != float("inf")]
    visibility = summarise_ms(finite)
    params = {"feed_rows": load.rows, "probe_threads": ctx.settings.live_probe_threads, "workers": server.workers,
              "sample": len(sample)}
    lookups = ScenarioResult(
        "live_load.lookups", "live_load", params, during_rate, "rpc/s", latency_dict(during),
        peers={"idle": peer_figures(idle_rate, "rpc/s", idle)},
        ratio={"p99 during load / idle": ratio(during.p99_ms, idle.p99_ms),
               "p50 during load / idle": ratio(during.p50_ms, idle.p50_ms)},
        extra={"probe_errors": probe.errors, "load_seconds": round(acknowledged - load_from, 2)})
    loaded = ScenarioResult(
        "live_load.ingest", "live_load", params, load.rows_per_s, "rows/s",
        extra={"visible_ms": {"p50": visibility.p50_ms, "max": visibility.max_ms, "count": visibility.count},
               "never_visible": len(visible) - len(finite), "listed_before_load": already,
               "loader_cpu_s": round(load.cpu_seconds, 2),
               "loader_peak_rss_mib": round(load.peak_rss_bytes / 2**20, 1)})
    return [lookups, loaded]
