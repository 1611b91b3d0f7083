"""The --db sink: it writes exactly the batches given, a re-run completes an interrupted load, one writer at a time."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret
from risklist_loader.db_sink import DbSink
from risklist_loader.errors import SinkError
from risklist_loader.pipeline import LoadPlan, Validation, run_load
from risklist_loader.rejects import RejectLog
from risklist_loader.sink import BatchCallback, LoadOutcome
from risklist_loader.spool import Batch
from risklist_server.core.errors import StoreError
from risklist_server.core.settings import Settings
from risklist_server.services.ingest import LoadMode
from risklist_server.store.apply import ApplyResult
from tests.loader.loader_feeds import generated_rows, key_of, records, write_csv

ROWS = generated_rows(12)


class BatchCollector:
    """A sink that only keeps the batches validation produced, to hand them to a DbSink."""

    description = "collector"

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    is_open = False

    def open(self) -> None:
        pass

    def load(self, source: str, mode: LoadMode, batches: Iterable[Batch], on_batch: BatchCallback) -> LoadOutcome:
        self.batches = list(batches)
        return LoadOutcome(ApplyResult(), None)

    def close(self) -> None:
        pass


@pytest.fixture()
def batches(tmp_path: Path, secret: NetworkSecret) -> list[Batch]:
    """The validated batches of a 12-row feed, 5 rows each."""
    plan = LoadPlan(write_csv(tmp_path / "feed.csv", ROWS), "csv", "bank-a", LoadMode.DELTA, 5, 0.0,
                    log_batches=False)
    collector = BatchCollector()
    (tmp_path / "work").mkdir()
    run_load(plan, Validation("bank-a", secret, Settings(), 1_780_000_000), collector, RejectLog(None),
             tmp_path / "work")
    assert [len(batch.mutations) for batch in collector.batches] == [5, 5, 2]
    return collector.batches


def _expected(secret: NetworkSecret) -> set[bytes]:
    return {key_of(secret, EntityType.from_feed_name(str(row["entity_type"])), str(row["identifier"])) for row in ROWS}


def _load(db: Path, secret: NetworkSecret, batches: list[Batch],
          on_batch: BatchCallback = lambda _batch, _result: None) -> LoadOutcome:
    sink = DbSink(db, secret.fingerprint)
    sink.open()
    try:
        return sink.load("bank-a", LoadMode.DELTA, batches, on_batch)
    finally:
        sink.close()


def test_writes_the_batches_it_was_given(tmp_path: Path, secret: NetworkSecret, batches: list[Batch]) -> None:
    """Every subject of every batch is listed afterwards; each batch is reported with its counts."""
    seen: list[tuple[int, int]] = []
    outcome = _load(tmp_path / "db", secret, batches,
                    lambda batch, result: seen.append((batch.number, result.added if result else -1)))
    assert seen == [(1, 5), (2, 5), (3, 2)]
    assert outcome.result.added == 12 and outcome.list_version is not None and outcome.list_version > 0
    assert set(records(tmp_path / "db", secret)) == _expected(secret)


def test_running_the_same_load_again_changes_nothing(tmp_path: Path, secret: NetworkSecret,
                                                      batches: list[Batch]) -> None:
    """A second run of the same batches adds nothing, finds every row unchanged, and leaves the same records."""
    _load(tmp_path / "db", secret, batches)
    first = records(tmp_path / "db", secret)
    again = _load(tmp_path / "db", secret, batches)
    assert (again.result.added, again.result.unchanged) == (0, 12)
    assert records(tmp_path / "db", secret) == first


def test_an_interrupted_load_says_how_far_it_got_and_a_rerun_completes_it(
    tmp_path: Path, secret: NetworkSecret, batches: list[Batch]
) -> None:
    """A failure after the first batch names the batches applied and the re-run; re-running lists everything."""
    def fail_after_first(batch: Batch, _result: ApplyResult | None) -> None:
        if batch.number == 1:
            raise RuntimeError("disk full")

    with pytest.raises(SinkError) as failed:
        _load(tmp_path / "db", secret, batches, fail_after_first)
    assert "disk full" in str(failed.value) and "1 batch(es) were applied" in str(failed.value)
    assert "re-run the same command" in str(failed.value)
    assert len(records(tmp_path / "db", secret)) == 5
    rerun = _load(tmp_path / "db", secret, batches)
    assert (rerun.result.added, rerun.result.unchanged) == (7, 5)
    assert set(records(tmp_path / "db", secret)) == _expected(secret)


def test_one_writer_at_a_time_and_nothing_before_open(tmp_path: Path, secret: NetworkSecret,
                                                       batches: list[Batch]) -> None:
    """A second sink on a store already open is refused, and a sink never opened refuses to load."""
    first = DbSink(tmp_path / "db", secret.fingerprint)
    first.open()
    try:
        with pytest.raises(StoreError):
            DbSink(tmp_path / "db", secret.fingerprint).open()
    finally:
        first.close()
    with pytest.raises(SinkError, match="not open"):
        DbSink(tmp_path / "db", secret.fingerprint).load("bank-a", LoadMode.DELTA, batches, lambda _b, _r: None)
