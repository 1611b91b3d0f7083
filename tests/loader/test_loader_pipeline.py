"""The load pipeline in process: batches go to the sink in key order, rejects are reported, refusals apply nothing."""

from __future__ import annotations

import csv
import multiprocessing
from collections.abc import Iterable
from pathlib import Path

import pytest

from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret
from risklist_loader import pipeline
from risklist_loader.db_sink import DbSink
from risklist_loader.pipeline import LoadPlan, Validation, run_load
from risklist_loader.rejects import RejectLog
from risklist_loader.sink import BatchCallback, LoadOutcome
from risklist_loader.spool import Batch
from risklist_loader.summary import LoadSummary
from risklist_server.core.settings import Settings
from risklist_server.services.ingest import LoadMode
from risklist_server.store.apply import ApplyResult
from tests.loader.loader_feeds import generated_rows, key_of, records, write_csv

NOW = 1_780_000_000


class RecordingSink:
    """A sink that keeps every batch it is given, in order, and reports each as sent."""

    description = "recording sink"

    def __init__(self) -> None:
        self.loads: list[tuple[str, LoadMode]] = []
        self.batches: list[Batch] = []

    is_open = False

    def open(self) -> None:
        pass

    def load(self, source: str, mode: LoadMode, batches: Iterable[Batch], on_batch: BatchCallback) -> LoadOutcome:
        self.loads.append((source, mode))
        for batch in batches:
            self.batches.append(batch)
            on_batch(batch, None)
        return LoadOutcome(ApplyResult(added=sum(len(b.mutations) for b in self.batches)), None)

    def close(self) -> None:
        pass


def _load(tmp_path: Path, secret: NetworkSecret, rows: list[dict[str, object]], sink: RecordingSink | DbSink | None,
          *, mode: LoadMode = LoadMode.DELTA, batch_size: int = 3, max_reject_ratio: float = 0.5,
          dry_run: bool = False, bulk_min_rows: int = 10**9) -> LoadSummary:
    feed = write_csv(tmp_path / "feed.csv", rows)
    plan = LoadPlan(feed, "csv", "bank-a", mode, batch_size, max_reject_ratio, dry_run=dry_run,
                    log_batches=False, bulk_min_rows=bulk_min_rows)
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    rejects = RejectLog(tmp_path / "rejects.csv")
    try:
        return run_load(plan, Validation("bank-a", secret, Settings(), NOW), sink, rejects, workdir)
    finally:
        rejects.close()


def test_batches_arrive_in_key_order_holding_every_accepted_row(tmp_path: Path, secret: NetworkSecret) -> None:
    """Batches are numbered from 1, at most batch_size each, in storage-key order (subjects are independent, and
    key order is what an external sort gives), name the lowest and highest feed line they hold, and hold every
    accepted row once."""
    sink = RecordingSink()
    rows = generated_rows(10)
    summary = _load(tmp_path, secret, rows, sink)
    assert sink.loads == [("bank-a", LoadMode.DELTA)]
    assert [batch.number for batch in sink.batches] == [1, 2, 3, 4]
    assert [len(batch.mutations) for batch in sink.batches] == [3, 3, 3, 1]
    line_of = {key_of(secret, EntityType.from_feed_name(str(row["entity_type"])), str(row["identifier"])): line
               for line, row in enumerate(rows, start=2)}  # line 1 is the header
    keys = [mutation.key for batch in sink.batches for mutation in batch.mutations]
    assert keys == sorted(line_of)
    for batch in sink.batches:
        lines = [line_of[mutation.key] for mutation in batch.mutations]
        assert (batch.first_line, batch.last_line) == (min(lines), max(lines))
    assert (summary.rows, summary.accepted, summary.rejected, summary.exit_code) == (10, 10, 0, 0)


def test_rejects_are_reported_and_left_out_of_the_batches(tmp_path: Path, secret: NetworkSecret) -> None:
    """A bad row is counted, shown with line and field, written to the rejects file and never sent; a row identical
    to an earlier one is counted as repeated, not rejected, and not sent again."""
    rows = generated_rows(6)
    rows[1] = {**rows[1], "entity_type": "nickname"}
    rows.append(dict(rows[3]))  # line 8 repeats line 5
    sink = RecordingSink()
    summary = _load(tmp_path, secret, rows, sink)
    assert (summary.rows, summary.accepted, summary.rejected, summary.repeated, summary.exit_code) == (7, 6, 1, 1, 3)
    assert [(r.line, r.field) for r in summary.first_rejects] == [(3, "entity_type")]
    with (tmp_path / "rejects.csv").open(encoding="utf-8") as stream:
        assert [(row["line"], row["field"]) for row in csv.DictReader(stream)] == [("3", "entity_type")]
    assert sum(len(batch.mutations) for batch in sink.batches) == 5
    sent_lines = [batch.first_line for batch in sink.batches] + [batch.last_line for batch in sink.batches]
    assert 3 not in sent_lines and 8 not in sent_lines


def test_over_the_reject_ratio_nothing_is_applied(tmp_path: Path, secret: NetworkSecret) -> None:
    """More rejects than --max-reject-ratio allows: the load is refused and the sink never sees a batch."""
    rows = [{**row, "entity_type": "nickname"} if number % 2 else row for number, row in enumerate(generated_rows(6))]
    sink = RecordingSink()
    summary = _load(tmp_path, secret, rows, sink, max_reject_ratio=0.25)
    assert "3 of 6 rows rejected" in summary.refusal and summary.exit_code == 1
    assert sink.loads == []


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_dry_run_or_an_empty_snapshot_applies_nothing(tmp_path: Path, secret: NetworkSecret, dry_run: bool) -> None:
    """A dry run validates without loading; a snapshot with no add rows is refused rather than wiping the source."""
    rows = generated_rows(4) if dry_run else [{**row, "action": "remove"} for row in generated_rows(4)]
    sink = RecordingSink()
    summary = _load(tmp_path, secret, rows, sink, mode=LoadMode.DELTA if dry_run else LoadMode.SNAPSHOT,
                    dry_run=dry_run)
    assert sink.loads == [] and summary.accepted == 4
    assert bool(summary.refusal) is not dry_run


@pytest.mark.parametrize("ended", ["expired", "removed later"])
def test_a_snapshot_whose_adds_are_all_ended_is_refused(tmp_path: Path, secret: NetworkSecret, ended: str) -> None:
    """A snapshot whose every add has already expired, or is removed by a later row, lists nothing: refused."""
    rows = generated_rows(4)
    if ended == "expired":
        rows = [{**row, "reported_at": "2020-01-01", "expires_at": "2021-01-01"} for row in rows]
    else:
        rows += [{**row, "action": "remove", "category": ""} for row in rows]
    sink = RecordingSink()
    summary = _load(tmp_path, secret, rows, sink, mode=LoadMode.SNAPSHOT)
    assert "the snapshot lists nothing" in summary.refusal and summary.exit_code == 1
    assert sink.loads == []


@pytest.mark.parametrize("bulk_min_rows", [1, 10**9])
def test_into_a_store_bulk_and_batches_leave_the_same_records(
    tmp_path: Path, secret: NetworkSecret, bulk_min_rows: int
) -> None:
    """Into an empty store, the bulk path and the batch path list exactly the feed's subjects."""
    rows = generated_rows(12)
    sink = DbSink(tmp_path / "db", secret.fingerprint)  # run_load opens it
    try:
        summary = _load(tmp_path, secret, rows, sink, bulk_min_rows=bulk_min_rows)
    finally:
        sink.close()
    assert summary.result.added == 12 and summary.list_version is not None and summary.list_version > 0
    expected = {key_of(secret, EntityType.from_feed_name(str(row["entity_type"])), str(row["identifier"]))
                for row in rows}
    assert set(records(tmp_path / "db", secret)) == expected


class WorkersSeenSink(RecordingSink):
    """A RecordingSink that notes this process's live child processes when its batches start."""

    children: list[multiprocessing.process.BaseProcess] | None = None

    def load(self, source: str, mode: LoadMode, batches: Iterable[Batch], on_batch: BatchCallback) -> LoadOutcome:
        self.children = multiprocessing.active_children()
        return super().load(source, mode, batches, on_batch)


def test_the_load_s_workers_have_ended_before_its_batches_are_applied(
        tmp_path: Path, secret: NetworkSecret, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pass 1 and deciding run on worker processes; applying batches (which may take long through a server) needs
    none, so none is left holding memory while it runs."""
    monkeypatch.setattr(pipeline, "workers_for", lambda _size: 2)  # workers even for this small feed
    sink = WorkersSeenSink()
    summary = _load(tmp_path, secret, generated_rows(10), sink)
    assert summary.result.added == 10 and len(sink.batches) == 4
    assert sink.children == []
