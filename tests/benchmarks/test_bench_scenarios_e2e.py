"""Scenario functions end to end against a real risklist-server on a tiny store, Python clients only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.context import Context, Settings
from benchmarks.dataset import Dataset
from benchmarks.loadgen import ClientPool
from benchmarks.results import document, merge_runs, write_json
from benchmarks.scenarios import batch, bulk_load, live_load, stream
from benchmarks.targets import check_targets

TINY = Settings(duration=0.5, warmup=0.1, queries=2000, batch_sizes=(10,), client_processes=1, client_threads=2,
                stream_sizes=(10,), live_entries=300, live_idle_seconds=0.3, live_sample=8)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    root = tmp_path_factory.mktemp("bench-data")
    dataset = Dataset(2000, 3, root=root)
    workdir = root / "work"
    workdir.mkdir()
    build = bulk_load.ensure_store(dataset, workdir)
    assert build is not None and build.rows >= 2000
    with ClientPool(TINY.client_processes) as clients:
        yield Context(TINY, dataset, dataset.queries(TINY.queries), workdir, clients, redis=None)


def test_batch_scenario_measures_both_forms_without_errors(context: Context) -> None:
    """BatchCheck of digests and of raw values both complete RPCs, with latencies and no failed status."""
    results = batch.run(context)
    assert [result.name for result in results] == ["batch.digest.10", "batch.raw.10"]
    for result in results:
        assert result.unit == "keys/s" and result.ops_per_s > 0
        assert result.latency_ms is not None and result.latency_ms["p50"] > 0
        assert result.extra["client_errors"] == 0
        assert result.extra["non_ok"] in (0, None)
        assert result.peers == {}  # no Redis in this test


def test_stream_scenario_answers_every_message(context: Context) -> None:
    """StreamCheck streams get one answer per message and report keys/s."""
    (result,) = stream.run(context)
    assert result.name == "stream.digest.10" and result.ops_per_s > 0
    assert result.extra["client_errors"] == 0


def test_live_load_makes_every_sampled_entry_visible(context: Context) -> None:
    """A feed loaded through the admin port: lookups go on, and every sampled new entry turns LISTED."""
    lookups, ingest = live_load.run(context)
    assert lookups.ops_per_s > 0 and lookups.extra["probe_errors"] == 0
    assert ingest.extra["listed_before_load"] == 0
    assert ingest.extra["never_visible"] == 0
    assert ingest.extra["visible_ms"]["count"] == TINY.live_sample


def test_results_of_a_run_make_a_json_document(context: Context, tmp_path: Path) -> None:
    """A scenario's results go through merge and the document writer into valid JSON."""
    runs = [batch.run(context)]
    scenarios = merge_runs(runs)
    path = tmp_path / "harness.json"
    write_json(path, document(name="harness", command="test", mode="quick", params={}, machine={},
                              scenarios=scenarios, targets=check_targets(scenarios), notes=[]))
    loaded = json.loads(path.read_text())
    assert [scenario["name"] for scenario in loaded["scenarios"]] == ["batch.digest.10", "batch.raw.10"]
    assert all(scenario["ops_per_s"] > 0 for scenario in loaded["scenarios"])
