"""The two passes of a load: validate the whole feed into a spool, then apply it in batches."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from loader.csv_feed import CsvFeed
from loader.dedupe import DedupeIndex
from loader.errors import FeedError
from loader.jsonl_feed import JsonlFeed
from loader.lines import LineReader
from loader.progress import Progress
from loader.rejects import Reject, RejectLog
from loader.rows import BadRow, ReadRow
from loader.sink import Sink
from loader.spool import Batch, SpoolWriter, read_batches
from loader.summary import LoadSummary
from loader.validate import RowValidator
from server.core.mutation import Upsert
from server.ingest import LoadMode
from server.store.risk_store import ApplyResult

log = structlog.get_logger("risklist.loader")

FeedFormat = Literal["csv", "jsonl"]
_PROGRESS_EVERY = 1024


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


@dataclass(slots=True)
class _Validated:
    rows: int = 0
    accepted: int = 0
    adds: int = 0


def run_load(
    plan: LoadPlan,
    validator: RowValidator,
    sink: Sink | None,
    rejects: RejectLog,
    workdir: Path,
) -> LoadSummary:
    """Validate everything, then (unless refused or a dry run) apply; FeedError if unloadable."""
    started = time.monotonic()
    target = "nothing" if sink is None else sink.description
    summary = LoadSummary(plan.feed, plan.source, plan.mode.value, target, dry_run=plan.dry_run,
                          rejects_path=rejects.path)
    spool_path = workdir / "spool.bin"
    validated = _validate(plan, validator, rejects, workdir, spool_path)
    summary.rows, summary.accepted, summary.rejected = (
        validated.rows, validated.accepted, rejects.rows
    )
    summary.first_rejects = list(rejects.first)
    log.info("validated", feed=plan.feed.name, rows=validated.rows, accepted=validated.accepted,
             rejected=rejects.rows, seconds=round(time.monotonic() - started, 3))
    summary.refusal = _refusal(plan, validated, rejects.rows)
    if not summary.refusal and not plan.dry_run and sink is not None:
        outcome = _apply(plan, sink, spool_path, validated.accepted)
        summary.result, summary.list_version = outcome
    summary.seconds = time.monotonic() - started
    return summary


def _open_feed(plan: LoadPlan, lines: LineReader) -> CsvFeed | JsonlFeed:
    return CsvFeed(lines) if plan.feed_format == "csv" else JsonlFeed(lines)


def _validate(
    plan: LoadPlan, validator: RowValidator, rejects: RejectLog, workdir: Path, spool_path: Path
) -> _Validated:
    """Pass 1: read, validate, normalise, digest and de-duplicate every row into the spool."""
    counts = _Validated()
    size = plan.feed.stat().st_size
    progress = Progress(plan.show_progress, total=size, unit="B", description="validating")
    dedupe = DedupeIndex(workdir / "dedupe")
    spool = SpoolWriter(spool_path)
    try:
        with plan.feed.open("rb") as stream:
            lines = LineReader(stream)
            for row in _open_feed(plan, lines):
                counts.rows += 1
                _check_row(plan, validator, dedupe, spool, rejects, row, counts)
                if counts.rows % _PROGRESS_EVERY == 0:
                    progress.advance_to(lines.bytes_read)
            progress.advance_to(lines.bytes_read)
    finally:
        progress.close()
        spool.close()
        dedupe.close()
    return counts


def _check_row(
    plan: LoadPlan,
    validator: RowValidator,
    dedupe: DedupeIndex,
    spool: SpoolWriter,
    rejects: RejectLog,
    row: ReadRow,
    counts: _Validated,
) -> None:
    if isinstance(row, BadRow):
        if row.truncated and plan.mode is LoadMode.SNAPSHOT:
            raise FeedError(
                "the last line is cut short, so the file looks truncated; a snapshot of a "
                "truncated file would remove every contribution it lost; export the file again",
                line=row.line,
                field="row",
            )
        rejects.reject_row(row.rejects)
        return
    checked = validator.validate(row)
    if isinstance(checked, list):
        rejects.reject_row(checked)
        return
    first = dedupe.first_line(checked.dedupe_key, row.line)
    if first is not None:
        reason = f"duplicate of line {first} (same entity_type, identifier and category)"
        rejects.reject_row([Reject(row.line, "row", reason)])
        return
    spool.write(row.line, checked.mutation)
    counts.accepted += 1
    counts.adds += isinstance(checked.mutation, Upsert)


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
    plan: LoadPlan, sink: Sink, spool_path: Path, accepted: int
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
        batches = read_batches(spool_path, plan.source, plan.batch_size)
        outcome = sink.load(plan.source, plan.mode, batches, on_batch)
    finally:
        progress.close()
    if plan.mode is LoadMode.SNAPSHOT:
        log.info("snapshot_swept", source=plan.source, swept=outcome.result.swept)
    return outcome.result, outcome.list_version
