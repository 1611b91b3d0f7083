"""The cost-per-key headline of a native run: one table per shape (ours, the ceiling, Redis) and the cost chart."""

from __future__ import annotations

from typing import Any

from benchmarks.chart import cost_rows
from benchmarks.cost_tables import cost_tables, shape_title
from benchmarks.report import render
from benchmarks.results import document

OURS_EXTRA = {"server_cpu_us_per_key": 1.76, "server_cpu_us_per_rpc": 1756.0, "rpc_per_s": 665,
              "server_cores_used": 1.18, "loadgen_cores_used": 0.06}
CEILING = {"server_cpu_us_per_key": 0.41, "server_cpu_us_per_rpc": 409.0, "keys_per_s": 2_257_000,
           "rpc_per_s": 2257, "server_cores_used": 0.92, "loadgen_cores_used": 0.1,
           "latency_ms": {"p50": 7, "p99": 17.6}}
REDIS = {"tool": "redis-benchmark MGET 1000", "server_cpu_us_per_key": 0.45, "server_cpu_us_per_call": 450.0,
         "ops_per_s": 2_097_320, "calls_per_s": 2097, "latency_ms": {"p50": 9.1, "p99": 20.0}, "loadgen_cpu_s": 1.2}


def _native(name: str, peers: dict[str, Any], ratio: dict[str, float] | None = None) -> dict[str, Any]:
    return {"name": name, "group": "native", "params": {}, "unit": "keys/s", "ops_per_s": 664_737.0,
            "latency_ms": {"p50": 22.4, "p99": 75.6}, "peers": peers, "ratio": ratio or {}, "extra": OURS_EXTRA}


def test_each_shape_gets_a_table_with_ours_first_then_the_ceilings_and_redis() -> None:
    """Ours with one worker (CPU per key in bold), two workers, each way of serving the ceiling, Redis; the
    ratios under the table; a shape without a one-worker run gets none."""
    scenarios = [
        _native("native.batch.digest.1000.w1", {"ceiling": CEILING, "ceiling_aio": CEILING, "redis_benchmark": REDIS},
                {"of ceiling (RPC/s)": 0.29}),
        _native("native.batch.digest.1000.w2", {}, {"2 workers / 1 worker (RPC/s)": 0.9}),
        {"name": "batch.digest.1000", "group": "batch", "ops_per_s": 1.0},
    ]
    text = cost_tables(scenarios)
    assert text.startswith("### What a key costs the server")
    assert text.count("| server | server CPU-µs per key |") == 1
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0] for row in rows] == ["| **risklist**, 1 worker", "| risklist, 2 workers",
                                                    "| ceiling (empty handlers, our arrangement)",
                                                    "| ceiling, grpc.aio", "| Redis (redis-benchmark MGET 1000)"]
    assert rows[0].startswith("| **risklist**, 1 worker | **1.76** | 1,756 | 664,737 | 665 |")
    assert rows[-1].startswith("| Redis (redis-benchmark MGET 1000) | 0.45 | 450 | 2,097,320 | 2,097 | — |")
    assert "of ceiling (RPC/s): **0.29**; 2 workers / 1 worker (RPC/s): **0.9**" in text


def test_the_pinned_check_gets_a_latency_table_and_a_run_without_native_shapes_gets_nothing() -> None:
    pinned = _native("native.check.w1.open50.pinned", {"ceiling": {**CEILING, "ops_per_s": 1300.0}},
                     {"p99, ours / ceiling": 1.24})
    text = cost_tables([pinned])
    assert "| ceiling (empty handlers, our arrangement) | 1,300 | 7 | 17.6 | — |" in text
    assert "p99, ours / ceiling: **1.24**" in text
    assert cost_tables([{"name": "bulk_load", "group": "bulk_load"}]) == ""


def test_shape_titles_say_what_was_sent() -> None:
    assert [shape_title(name) for name in ("native.check.w1", "native.batch.raw.100.w1",
                                           "native.stream.100x10.w1")] == [
        "Check (one raw value per call)", "BatchCheck of 100 raw values",
        "StreamCheck (100 messages of 10 digests per stream; a call is a stream)"]


def test_the_report_puts_the_headline_first_and_labels_the_python_client_figures() -> None:
    """The cost tables come before the scenario tables; Python-client scenarios get a table of their own, said
    to be what a Python partner sees."""
    batch = {"name": "batch.digest.1000", "group": "batch", "params": {}, "unit": "keys/s", "ops_per_s": 5.0}
    load = {"name": "bulk_load", "group": "bulk_load", "params": {}, "unit": "rows/s", "ops_per_s": 7.0}
    data = document(name="n", command="c", mode="full", params={}, machine={}, scenarios=[load, batch], targets=[],
                    notes=[])
    text = render(data, headline="### HEADLINE")
    assert text.index("### HEADLINE") < text.index("| bulk_load |") < text.index("What a Python partner sees")
    assert text.index("What a Python partner sees") < text.index("| batch.digest.1000 |")


def test_the_cost_chart_has_ours_the_ceiling_and_redis_per_shape() -> None:
    """One bar group per native shape measured with one worker: ours, the ceiling, Redis (None where not measured).
    (Drawing it needs matplotlib, which only the bench extra installs: `make bench` draws it.)"""
    scenarios = [_native("native.batch.digest.1000.w1", {"ceiling": CEILING, "redis_benchmark": REDIS}),
                 _native("native.check.w1", {"ceiling": CEILING}), _native("native.check.w2", {}),
                 {"name": "batch.digest.1000", "group": "batch", "ops_per_s": 1.0}]
    assert cost_rows(scenarios) == [("batch.digest.1000", 1.76, 0.41, 0.45), ("check", 1.76, 0.41, None)]
