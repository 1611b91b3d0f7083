"""The two passes of a load: validate the whole feed into spools (on every core), then apply them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import structlog

from risklist_kernel.secret import NetworkSecret
from risklist_loader.bulk import BULK_MIN_ROWS, Spooled
from risklist_loader.csv_feed import CsvFeed
from risklist_loader.db_sink import DbSink
from risklist_loader.dedupe import order_keys
from risklist_loader.errors import FeedError
from risklist_loader.lines import LineReader
from risklist_loader.parallel import ChunkResult, WorkerSetup, read_rejects, run_chunks
from risklist_loader.progress import Progress
from risklist_loader.rejects import Reject, RejectLog
from risklist_loader.sink import Sink
from risklist_loader.spool import ADD, Batch, read_all_entries, read_batches
from risklist_loader.summary import LoadSummary
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
    """With --db, a feed of at least this many accepted rows into an empty store goes in bulk."""


@dataclass(frozen=True, slots=True)
class Validation:
    """What rows are checked against: the source, the network secret and settings, and now."""

    source: str
    secret: NetworkSecret
    settings: Settings
    now: int


@dataclass(slots=True)
class _Validated:
    rows: int = 0
    accepted: int = 0
    adds: int = 0


def run_load(
    plan: LoadPlan,
    validation: Validation,
    sink: Sink | None,
    rejects: RejectLog,
    workdir: Path,
) -> LoadSummary:
    """Validate everything, then (unless refused or a dry run) apply; FeedError if unloadable."""
    started = time.monotonic()
    target = "nothing" if sink is None else sink.description
    summary = LoadSummary(plan.feed, plan.source, plan.mode.value, target, dry_run=plan.dry_run,
                          rejects_path=rejects.path)
    validated, spooled, skip = _validate(plan, validation, rejects, workdir)
    summary.rows, summary.accepted, summary.rejected = (
        validated.rows, validated.accepted, rejects.rows
    )
    summary.first_rejects = list(rejects.first)
    log.info("validated", feed=plan.feed.name, rows=validated.rows, accepted=validated.accepted,
             rejected=rejects.rows, seconds=round(time.monotonic() - started, 3))
    summary.refusal = _refusal(plan, validated, rejects.rows)
    if not summary.refusal and not plan.dry_run and sink is not None:
        if isinstance(sink, DbSink) and validated.accepted >= plan.bulk_min_rows and sink.can_bulk():
            outcome = sink.load_bulk(plan.source, plan.mode, spooled)
            summary.result, summary.list_version = outcome.result, outcome.list_version
        else:
            summary.result, summary.list_version = _apply(plan, sink, spooled, skip, validated.accepted)
    summary.seconds = time.monotonic() - started
    return summary


def _header(plan: LoadPlan) -> tuple[int, int, tuple[str, ...]]:
    """(byte where rows start, their first line number, CSV columns); FeedError for a bad header."""
    if plan.feed_format != "csv":
        return 0, 1, ()
    with plan.feed.open("rb") as stream:
        lines = LineReader(stream)
        feed = CsvFeed(lines)
        header_line = feed.read_header()
        if header_line == 0:
            return plan.feed.stat().st_size, 1, ()
        return lines.bytes_read, header_line + 1, feed.columns


def _validate(
    plan: LoadPlan, validation: Validation, rejects: RejectLog, workdir: Path
) -> tuple[_Validated, Spooled, npt.NDArray[np.int64]]:
    """Pass 1: read, validate, normalise, digest and de-duplicate every row into spools."""
    counts = _Validated()
    size = plan.feed.stat().st_size
    progress = Progress(plan.show_progress, total=size, unit="B", description="validating")
    try:
        data_start, first_line, columns = _header(plan)
        setup = WorkerSetup(plan.feed, plan.feed_format, columns, plan.source,
                            plan.mode is LoadMode.SNAPSHOT, validation.settings.default_region,
                            validation.secret.key, validation.settings, validation.now, workdir)
        results: list[ChunkResult] = []
        adds = 0
        for result in run_chunks(setup, data_start, first_line, size):
            results.append(result)
            counts.rows += result.rows
            adds += result.adds
            progress.advance_to(result.end)
            if result.fatal is not None:
                break
        entries = read_all_entries([result.spool for result in results])
        key_order = order_keys(entries["key"], entries["category"], entries["line"])
        duplicate = key_order.duplicate_of != 0
        skip = entries["line"][duplicate]
        first_lines = key_order.duplicate_of[duplicate]
        order = key_order.order
        del key_order  # its dense duplicate_of column is the biggest thing held here
        _write_rejects(rejects, results, skip, first_lines)
        counts.accepted = len(entries) - len(skip)
        counts.adds = adds - int(np.count_nonzero(entries["action"][duplicate] == ADD))
        fatal = results[-1].fatal if results else None
        if fatal is not None:
            message, line, field = fatal
            raise FeedError(message, line=line, field=field)
    finally:
        progress.close()
    return counts, Spooled([result.spool for result in results], entries, order, duplicate), skip


def _write_rejects(rejects: RejectLog, results: list[ChunkResult], duplicate_lines: npt.NDArray[np.int64],
                   first_lines: npt.NDArray[np.int64]) -> None:
    """Every rejected row in line order: the chunks' own rejects merged with the duplicates."""
    duplicates = zip(duplicate_lines.tolist(), first_lines.tolist(), strict=True)
    pending = next(duplicates, None)
    for result in results:
        for line, problems in read_rejects(result):
            while pending is not None and pending[0] < line:
                rejects.reject_row([_duplicate(*pending)])
                pending = next(duplicates, None)
            rejects.reject_row([Reject(line, field, reason) for field, reason in problems])
    while pending is not None:
        rejects.reject_row([_duplicate(*pending)])
        pending = next(duplicates, None)


def _duplicate(line: int, first: int) -> Reject:
    return Reject(line, "row", f"duplicate of line {first} (same entity_type, identifier and category)")


def _refusal(plan: LoadPlan, validated: _Validated, rejected: int) -> str:
    """Why nothing may be applied, or '' when the load may go ahead."""
    if validated.rows and rejected / validated.rows > plan.max_reject_ratio:
        return (
            f"{rejected} of {validated.rows} rows rejected ({rejected / validated.rows:.1%}), "
            f"more than --max-reject-ratio {plan.max_reject_ratio:g}; fix the feed and load it "
            "again"
        )
    if plan.mode is LoadMode.SNAPSHOT and validated.adds == 0 and not plan.allow_empty_snapshot:
        return (
            f"the snapshot has no valid add rows; loading it would remove every contribution of "
            f"source {plan.source}. Pass --allow-empty-snapshot if that is what you want"
        )
    return ""


def _apply(
    plan: LoadPlan, sink: Sink, spooled: Spooled, skip: npt.NDArray[np.int64], accepted: int
) -> tuple[ApplyResult, int | None]:
    """Pass 2: replay the spool into the sink, batch by batch."""
    progress = Progress(plan.show_progress, total=accepted, unit="row", description="applying")
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
        batches = read_batches(spooled.paths, plan.source, plan.batch_size, skip)
        outcome = sink.load(plan.source, plan.mode, batches, on_batch)
    finally:
        progress.close()
    if plan.mode is LoadMode.SNAPSHOT:
        log.info("snapshot_swept", source=plan.source, swept=outcome.result.swept)
    return outcome.result, outcome.list_version
