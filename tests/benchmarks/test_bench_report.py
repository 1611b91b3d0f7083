"""Results objects: medians over runs, the JSON document's shape, targets, markdown and chart rows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks.chart import chart_rows, main_peer
from benchmarks.report import number, render, scenario_table, targets_table
from benchmarks.results import ScenarioResult, document, merge_runs, write_json
from benchmarks.targets import check_targets


def _batch(ops: float, mget: float) -> ScenarioResult:
    return ScenarioResult("batch.digest.1000", "batch", {"batch": 1000, "form": "digest"}, ops, "keys/s",
                          {"p50": 2.0, "p99": 5.0, "p99.9": 9.0},
                          peers={"redis_mget": {"ops_per_s": mget, "unit": "keys/s", "latency_ms": {"p99": 4.0}}},
                          ratio={"vs redis MGET": round(ops / mget, 2)})


def _document(scenarios: list[dict[str, Any]]) -> dict[str, Any]:
    return document(name="harness", command="python -m benchmarks.harness --quick", mode="quick",
                    params={"entries": 1000, "seed": 1, "runs": 3},
                    machine={"date": "2026-11-23 13:00 UTC", "cores": 2},
                    scenarios=scenarios, targets=check_targets(scenarios), notes=["a note"])


def test_merge_takes_medians_per_scenario_and_keeps_each_run() -> None:
    """Throughput, latency, peers and ratios are medians over runs; each run's figures are kept."""
    merged = merge_runs([[_batch(300.0, 100.0)], [_batch(100.0, 100.0)], [_batch(200.0, 50.0)]])
    (scenario,) = merged
    assert scenario["ops_per_s"] == 200.0
    assert scenario["peers"]["redis_mget"]["ops_per_s"] == 100.0
    assert scenario["ratio"]["vs redis MGET"] == 3.0  # median of the per-run ratios 3, 1, 4
    assert [run["ops_per_s"] for run in scenario["runs"]] == [300.0, 100.0, 200.0]
    assert scenario["params"] == {"batch": 1000, "form": "digest"}


def test_document_is_strict_json_with_one_object_per_scenario(tmp_path: Path) -> None:
    """NaN becomes null; every scenario has name, params, ops_per_s, latency, peers and ratio."""
    broken = _batch(100.0, 50.0)
    broken.ratio["vs nothing"] = math.nan
    data = _document(merge_runs([[broken]]))
    path = tmp_path / "out.json"
    write_json(path, data)
    loaded = json.loads(path.read_text())
    (scenario,) = loaded["scenarios"]
    assert {"name", "params", "ops_per_s", "latency_ms", "peers", "ratio", "unit"} <= set(scenario)
    assert scenario["ratio"]["vs nothing"] is None
    assert loaded["machine"]["cores"] == 2 and loaded["mode"] == "quick"


def test_targets_are_checked_or_marked_not_measured() -> None:
    """The MGET target is met at 2× or more; targets whose scenario did not run have met = None."""
    targets = {t["target"]: t for t in check_targets(merge_runs([[_batch(300.0, 100.0)]]))}
    mget = next(t for name, t in targets.items() if "MGET" in name)
    assert mget["measured"] == 3.0 and mget["met"] is True
    assert all(t["met"] is None for name, t in targets.items() if "MGET" not in name)
    low = next(t for t in check_targets(merge_runs([[_batch(100.0, 100.0)]])) if "MGET" in t["target"])
    assert low["met"] is False


def test_markdown_table_has_a_row_per_scenario_with_peers_and_ratios() -> None:
    """Each scenario row shows ours, the percentiles, each peer's figure and the ratio in bold."""
    scenarios = merge_runs([[_batch(1_234_567.0, 600_000.0)]])
    table = scenario_table(scenarios)
    lines = table.splitlines()
    assert len(lines) == 3
    row = lines[2]
    assert row.startswith("| batch.digest.1000 | batch=1000, form=digest | 1,234,567 keys/s | 2 | 5 | 9 |")
    assert "redis_mget: 600,000 keys/s (p99 4 ms)" in row
    assert "vs redis MGET: **2.06×**" in row


def test_rendered_report_has_command_machine_tables_and_notes() -> None:
    """The report names the command and date, then the scenario and target tables, then notes."""
    text = render(_document(merge_runs([[_batch(300.0, 100.0)]])))
    assert "`python -m benchmarks.harness --quick`" in text
    assert "2026-11-23 13:00 UTC" in text
    assert "| target | measured | bound | met |" in text
    assert "not measured" in text and "- a note" in text
    assert targets_table([]).count("\n") == 1


def test_numbers_are_readable() -> None:
    """Large figures get thousands separators, small ones three significant digits, missing a dash."""
    assert (number(1234567.8), number(12.34), number(0.01234), number(None), number(math.inf)) == (
        "1,234,568", "12.3", "0.0123", "—", "—")


def test_chart_compares_each_scenario_with_its_redis_peer_first() -> None:
    """Redis is preferred as the charted peer; scenarios without a peer are not charted."""
    scenario = merge_runs([[_batch(300.0, 100.0)]])[0]
    scenario["peers"]["rocksdict_multi_get"] = {"ops_per_s": 5.0}
    peer = main_peer(scenario)
    assert peer is not None and peer[0] == "redis_mget"
    lonely = {"name": "x", "ops_per_s": 1.0, "peers": {}}
    rows = chart_rows([scenario, lonely])
    assert [(row[1], row[2], row[3], row[4]) for row in rows] == [(300.0, 100.0, 5.0, 4.0)]
