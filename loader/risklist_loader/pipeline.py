"""The two passes of a load: validate the whole feed into key-range buckets (on every core), then apply them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from risklist_kernel.secret import NetworkSecret
from risklist_loader.batches import ordered_batches
from risklist_loader.bulk import BULK_MIN_ROWS
from risklist_loader.csv_feed import CsvFeed
from risklist_loader.db_sink import DbSink
from risklist_loader.errors import FeedError
from risklist_loader.lines import LineReader
from risklist_loader.ordering import BucketFeed, FeedCounts, OrderedFeed, bucket_chunks, order_feed
from risklist_loader.parallel import ChunkResult, WorkerSetup, read_rejects, run_chunks
from risklist_loader.progress import Progress
from risklist_loader.rejects import Reject, RejectLog
from risklist_loader.rows import EXPECTED_HEADER
from risklist_loader.sink import Sink
from risklist_loader.spool import Batch
from risklist_loader.summary import LoadSummary
from risklist_loader.worker_pool import Workers, end_workers, load_pool, workers_for
from risklist_server.core.settings import Settings
from risklist_server.services.ingest import LoadMode
from risklist_server.store.apply import ApplyResult

log = structlog.get_logger("risklist.loader")

FeedFormat = Literal["csv", "jsonl"]


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What the command line asked for, checked."""

    feed: Path
    feed_format: FeedFormat
    source: str
    mode: LoadMode
    batch_size: int
    max_reject_ratio: float
    dry_run: bool = False
    allow_empty_snapshot: bool = False
    show_progress: bool = False
    log_batches: bool = True
    bulk_min_rows: int = BULK_MIN_ROWS
    """With --db, a feed of at least this many accepted rows goes in bulk (a snapshot only into an empty store)."""


@dataclass(frozen=True, slots=True)
class Validation:
    """What rows are checked against: the source, the network secret and settings, and now."""

    source: str
    secret: NetworkSecret
    settings: Settings
    now: int


def run_load(
    plan: LoadPlan,
    validation: Validation,
    sink: Sink | None,
    rejects: RejectLog,
    workdir: Path,
) -> LoadSummary:
    """Validate everything, then (unless refused or a dry run) apply; FeedError if unloadable.

    Every stage shares one pool of workers (big feeds only). A sink not open yet is opened here, once the pool's
    workers are forked and validating (its errors stop them); the workers are forks of this process only then (an
    open store or channel runs threads a fork must not copy), else they come from the worker server."""
    with load_pool(workers_for(plan.feed.stat().st_size), forked=sink is None or not sink.is_open) as pool:
        return _load(plan, validation, sink, rejects, workdir, pool)


def _load(plan: LoadPlan, validation: Validation, sink: Sink | None, rejects: RejectLog, workdir: Path,
          pool: Workers | None) -> LoadSummary:
    started = time.monotonic()
    target = "nothing" if sink is None else sink.description
    summary = LoadSummary(plan.feed, plan.source, plan.mode.value, target, dry_run=plan.dry_run,
                          rejects_path=rejects.path)
    rows, feed = _validate(plan, validation, rejects, workdir, sink, pool)
    summary.rows, summary.rejected = rows, rejects.rows
    summary.first_rejects = list(rejects.first)

    def decided(validated: FeedCounts) -> str:
        """Record what deciding the rows found; why nothing may be applied, or ''. The workers' part is done by
        then (deciding, and building for a bulk load): they end now, not after the ingest or the last batch."""
        end_workers(pool)
        summary.accepted = validated.accepted
        summary.repeated, summary.superseded, summary.expired = (
            validated.repeated, validated.superseded, validated.expired
        )
        log.info("validated", feed=plan.feed.name, rows=rows, accepted=validated.accepted,
                 rejected=rejects.rows, repeated=validated.repeated, superseded=validated.superseded,
                 expired=validated.expired, seconds=round(time.monotonic() - started, 3))
        summary.refusal = _refusal(plan, rows, validated, rejects.rows)
        return summary.refusal

    if (isinstance(sink, DbSink) and not plan.dry_run and feed.accepted >= plan.bulk_min_rows
            and sink.can_bulk(plan.mode) and not _too_many_rejects(plan, rows, rejects.rows)):
        # The builders decide the rows as they build: the counts (and a refusal) come before anything is applied.
        _, outcome = sink.load_bulk(plan.source, plan.mode, feed, decided, pool)
        if outcome is not None:
            summary.result, summary.list_version = outcome.result, outcome.list_version
    else:
        ordering = time.monotonic()
        validated, ordered = order_feed(feed, pool)
        log.info("ordered", buckets=len(ordered.buckets), seconds=round(time.monotonic() - ordering, 3))
        if not decided(validated) and not plan.dry_run and sink is not None:
            summary.result, summary.list_version = _apply(plan, sink, ordered, validated.applied)
    summary.seconds = time.monotonic() - started
    return summary


EMPTY_FILE = {
    "csv": "the file is empty (0 bytes): no header and no rows, as an export that wrote nothing leaves; export "
           "the feed again (an empty delta is a header line without rows)",
    "jsonl": "the file is empty (0 bytes): no rows, as an export that wrote nothing leaves; export the feed "
             "again (if there is nothing to send, do not load it)",
}
"""Why a 0-byte feed stops the load: it is a failed export far more often than an intended empty delta."""

NO_HEADER = (f"no header: the file holds only blank lines; export the feed again with its header line "
             f"({EXPECTED_HEADER})")


def _header(plan: LoadPlan) -> tuple[int, int, tuple[str, ...]]:
    """(byte where rows start, their first line number, CSV columns); FeedError for a bad or missing header."""
    if plan.feed.stat().st_size == 0:
        raise FeedError(EMPTY_FILE[plan.feed_format])
    if plan.feed_format != "csv":
        return 0, 1, ()
    with plan.feed.open("rb") as stream:
        lines = LineReader(stream)
        feed = CsvFeed(lines)
        header_line = feed.read_header()
        if header_line == 0:
            raise FeedError(NO_HEADER, field="header")
        return lines.bytes_read, header_line + 1, feed.columns


def _validate(plan: LoadPlan, validation: Validation, rejects: RejectLog, workdir: Path,
              sink: Sink | None, pool: Workers | None) -> tuple[int, BucketFeed]:
    """Pass 1: read, validate, normalise and digest every row into key-range buckets (by pass 1 itself, or for
    the biggest feeds through spools that are then partitioned), to be decided bucket by bucket
    (risklist_loader.buckets, risklist_loader.ordering), so memory stays bounded at any feed size.
    Returns the rows read and the buckets.
    """
    rows = 0
    size = plan.feed.stat().st_size
    progress = Progress(plan.show_progress, total=size, unit="B", description="validating")
    try:
        data_start, first_line, columns = _header(plan)
        spools, buckets = workdir / "spools", workdir / "buckets"
        spools.mkdir(exist_ok=True)
        buckets.mkdir(exist_ok=True)
        setup = WorkerSetup(plan.feed, plan.feed_format, columns, plan.source,
                            plan.mode is LoadMode.SNAPSHOT, validation.settings.default_region,
                            validation.secret.key, validation.settings, validation.now, spools, buckets)
        results: list[ChunkResult] = []
        chunks = run_chunks(setup, data_start, first_line, size, pool=pool,
                            meanwhile=sink.open if sink is not None else lambda: None)
        for result in chunks:
            results.append(result)
            rows += result.rows
            progress.advance_to(result.end)
            if result.fatal is not None:
                break
        for result in results:
            for line, problems in read_rejects(result):
                rejects.reject_row([Reject(line, field, reason) for field, reason in problems])
        fatal = results[-1].fatal if results else None
        if fatal is not None:
            message, line, field = fatal
            raise FeedError(message, line=line, field=field)
    finally:
        progress.close()
    return rows, bucket_chunks(results, workdir / "buckets", pool)


def _too_many_rejects(plan: LoadPlan, rows: int, rejected: int) -> bool:
    return bool(rows) and rejected / rows > plan.max_reject_ratio


def _refusal(plan: LoadPlan, rows: int, validated: FeedCounts, rejected: int) -> str:
    """Why nothing may be applied, or '' when the load may go ahead."""
    if _too_many_rejects(plan, rows, rejected):
        return (
            f"{rejected} of {rows} rows rejected ({rejected / rows:.1%}), "
            f"more than --max-reject-ratio {plan.max_reject_ratio:g}; fix the feed and load it "
            "again"
        )
    if plan.mode is LoadMode.SNAPSHOT and validated.adds == 0 and not plan.allow_empty_snapshot:
        return (
            f"the snapshot lists nothing (no valid add row that is live and not ended by a later row); "
            f"loading it would remove every contribution of "
            f"source {plan.source}. Pass --allow-empty-snapshot if that is what you want"
        )
    return ""


def _apply(plan: LoadPlan, sink: Sink, ordered: OrderedFeed, rows: int) -> tuple[ApplyResult, int | None]:
    """Pass 2: the applied rows (key order) into the sink, batch by batch."""
    progress = Progress(plan.show_progress, total=rows, unit="row", description="applying")
    done = 0

    def on_batch(batch: Batch, result: ApplyResult | None) -> None:
        nonlocal done
        done += len(batch.mutations)
        progress.advance_to(done)
        if not plan.log_batches:
            return
        if result is None:
            log.info("batch_sent", batch=batch.number, mutations=len(batch.mutations),
                     first_line=batch.first_line, last_line=batch.last_line, sent=done)
        else:
            log.info("batch_applied", batch=batch.number, mutations=len(batch.mutations),
                     first_line=batch.first_line, last_line=batch.last_line, added=result.added,
                     unchanged=result.unchanged, removed=result.removed,
                     not_listed=result.not_listed, applied=done)

    try:
        batches = ordered_batches(ordered, plan.source, plan.batch_size)
        outcome = sink.load(plan.source, plan.mode, batches, on_batch)
    finally:
        progress.close()
    if plan.mode is LoadMode.SNAPSHOT:
        log.info("snapshot_swept", source=plan.source, swept=outcome.result.swept)
    return outcome.result, outcome.list_version
