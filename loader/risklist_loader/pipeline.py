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
from risklist_loader.errors import FeedError
from risklist_loader.feed_order import APPLY, REPEATED, SUPERSEDED, order_rows
from risklist_loader.lines import LineReader
from risklist_loader.parallel import ChunkResult, WorkerSetup, read_rejects, run_chunks
from risklist_loader.progress import Progress
from risklist_loader.rejects import Reject, RejectLog
from risklist_loader.rows import EXPECTED_HEADER
from risklist_loader.sink import Sink
from risklist_loader.spool import ADD, EXPIRED, Batch, SpoolTails, read_all_entries, read_batches
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
    repeated: int = 0
    superseded: int = 0
    expired: int = 0
    adds: int = 0
    """Applied add rows (live): what a snapshot keeps."""


@dataclass(frozen=True, slots=True)
class _Applied:
    """Which spooled rows pass 2 applies: the feed lines it leaves out, and those held for their group."""

    skip: npt.NDArray[np.int64]
    held: npt.NDArray[np.int64]


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
    validated, spooled, applied = _validate(plan, validation, rejects, workdir)
    summary.rows, summary.accepted, summary.rejected = (
        validated.rows, validated.accepted, rejects.rows
    )
    summary.repeated, summary.superseded, summary.expired = (
        validated.repeated, validated.superseded, validated.expired
    )
    summary.first_rejects = list(rejects.first)
    log.info("validated", feed=plan.feed.name, rows=validated.rows, accepted=validated.accepted,
             rejected=rejects.rows, repeated=validated.repeated, superseded=validated.superseded,
             expired=validated.expired, seconds=round(time.monotonic() - started, 3))
    summary.refusal = _refusal(plan, validated, rejects.rows)
    if not summary.refusal and not plan.dry_run and sink is not None:
        if isinstance(sink, DbSink) and validated.accepted >= plan.bulk_min_rows and sink.can_bulk():
            outcome = sink.load_bulk(plan.source, plan.mode, spooled)
            summary.result, summary.list_version = outcome.result, outcome.list_version
        else:
            summary.result, summary.list_version = _apply(plan, sink, spooled, applied,
                                                          validated.accepted - len(applied.skip))
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


def _validate(
    plan: LoadPlan, validation: Validation, rejects: RejectLog, workdir: Path
) -> tuple[_Validated, Spooled, _Applied]:
    """Pass 1: read, validate, normalise and digest every row into spools, then decide which rows take effect."""
    counts = _Validated()
    size = plan.feed.stat().st_size
    progress = Progress(plan.show_progress, total=size, unit="B", description="validating")
    try:
        data_start, first_line, columns = _header(plan)
        setup = WorkerSetup(plan.feed, plan.feed_format, columns, plan.source,
                            plan.mode is LoadMode.SNAPSHOT, validation.settings.default_region,
                            validation.secret.key, validation.settings, validation.now, workdir)
        results: list[ChunkResult] = []
        for result in run_chunks(setup, data_start, first_line, size):
            results.append(result)
            counts.rows += result.rows
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
        paths = [result.spool for result in results]
        entries = read_all_entries(paths)
        feed_order = order_rows(entries["key"], entries["action"], entries["category"],
                                SpoolTails(paths, entries["tail"]).same)
        applied = feed_order.fate == APPLY
        actions = entries["action"]
        counts.accepted = len(entries)
        counts.repeated = int(np.count_nonzero(feed_order.fate == REPEATED))
        counts.superseded = int(np.count_nonzero(feed_order.fate == SUPERSEDED))
        counts.expired = int(np.count_nonzero(applied & (actions == EXPIRED)))
        counts.adds = int(np.count_nonzero(applied & (actions == ADD)))
        lines = entries["line"]
        chosen = _Applied(lines[~applied], lines[feed_order.held])
    finally:
        progress.close()
    return counts, Spooled(paths, entries, feed_order.order, ~applied), chosen


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
            f"the snapshot lists nothing (no valid add row that is live and not ended by a later row); "
            f"loading it would remove every contribution of "
            f"source {plan.source}. Pass --allow-empty-snapshot if that is what you want"
        )
    return ""


def _apply(
    plan: LoadPlan, sink: Sink, spooled: Spooled, applied: _Applied, rows: int
) -> tuple[ApplyResult, int | None]:
    """Pass 2: replay the spool's applied rows into the sink, batch by batch."""
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
        batches = read_batches(spooled.paths, plan.source, plan.batch_size, applied.skip, applied.held)
        outcome = sink.load(plan.source, plan.mode, batches, on_batch)
    finally:
        progress.close()
    if plan.mode is LoadMode.SNAPSHOT:
        log.info("snapshot_swept", source=plan.source, swept=outcome.result.swept)
    return outcome.result, outcome.list_version
