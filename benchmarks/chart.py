"""A PNG chart of a results document: throughput and p99 per scenario, ours against its main peer."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.cost_tables import one_worker_shapes

PEER_ORDER = ("redis_mget", "redis_get", "redis_pipelined_set", "redis_pipeline", "rocksdict_multi_get",
              "rocksdict_get", "idle")


def main_peer(scenario: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """The peer a scenario is charted against: Redis first, else the in-process or idle baseline."""
    peers: Mapping[str, Mapping[str, Any]] = scenario.get("peers") or {}
    for name in PEER_ORDER:
        if name in peers:
            return name, peers[name]
    return None


def chart_rows(scenarios: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, float | None, float | None,
                                                                       float | None, str]]:
    """(label, ours/s, peer/s, our p99, peer p99, peer name) for scenarios that have a peer."""
    rows = []
    for scenario in scenarios:
        peer = main_peer(scenario)
        if peer is None or not scenario.get("ops_per_s"):
            continue
        name, figures = peer
        latency = scenario.get("latency_ms") or {}
        peer_latency = figures.get("latency_ms") or {}
        rows.append((f"{scenario['name']}\n({scenario.get('unit', '')})", float(scenario["ops_per_s"]),
                     figures.get("ops_per_s"), latency.get("p99"), peer_latency.get("p99"), name))
    return rows


def write_chart(document: Mapping[str, Any], path: Path) -> None:
    """Two panels: throughput (log scale) and p99 latency, ours vs peer, one bar pair per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = chart_rows(document.get("scenarios", []))
    if not rows:
        return
    labels = [row[0] for row in rows]
    positions = range(len(rows))
    width = 0.4
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(max(8.0, 0.9 * len(rows) + 2), 9), sharex=True)
    top.bar([p - width / 2 for p in positions], [row[1] for row in rows], width, label="risklist (ours)",
            color="#1f77b4")
    top.bar([p + width / 2 for p in positions], [row[2] or 0 for row in rows], width,
            label="peer (Redis, or rocksdict / idle baseline)", color="#d62728")
    top.set_yscale("log")
    top.set_ylabel("throughput per second, log (unit under each label)")
    top.legend(loc="lower left", fontsize=8)
    top.grid(axis="y", alpha=0.3)
    for p, row in zip(positions, rows, strict=True):
        top.annotate(row[5], (p + width / 2, row[2] or 1), fontsize=6, rotation=90, ha="center", va="bottom")
    bottom.bar([p - width / 2 for p in positions], [row[3] or math.nan for row in rows], width, label="ours p99",
               color="#1f77b4")
    bottom.bar([p + width / 2 for p in positions], [row[4] or math.nan for row in rows], width, label="peer p99",
               color="#d62728")
    bottom.set_yscale("log")
    bottom.set_ylabel("p99 latency per operation, ms (log)")
    bottom.legend(loc="upper left", fontsize=8, ncols=2)
    bottom.grid(axis="y", alpha=0.3)
    bottom.set_xticks(list(positions))
    bottom.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    machine = document.get("machine", {})
    params = document.get("params", {})
    figure.suptitle(f"risklist vs peers — {params.get('entries', '?'):,} entries, {document.get('mode', '')} mode, "
                    f"{machine.get('date', '')}, {machine.get('cores', '?')} cores", fontsize=10)
    _save(figure, path)


def cost_rows(scenarios: Sequence[Mapping[str, Any]]) -> list[tuple[str, float | None, float | None, float | None]]:
    """(shape, ours, ceiling, Redis) server CPU-µs per key for each native shape measured with one worker."""
    rows = []
    for scenario in one_worker_shapes(scenarios):
        name = str(scenario["name"])
        peers: Mapping[str, Mapping[str, Any]] = scenario.get("peers") or {}
        rows.append((name.removeprefix("native.").removesuffix(".w1"),
                     (scenario.get("extra") or {}).get("server_cpu_us_per_key"),
                     (peers.get("ceiling") or {}).get("server_cpu_us_per_key"),
                     (peers.get("redis_benchmark") or {}).get("server_cpu_us_per_key")))
    return rows


def write_cost_chart(document: Mapping[str, Any], path: Path) -> None:
    """Server CPU-µs per key (log) for each native shape: ours, the ceiling, Redis side by side; nothing without
    native results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = cost_rows(document.get("scenarios", []))
    if not rows:
        return
    positions = range(len(rows))
    width = 0.27
    figure, axes = plt.subplots(figsize=(max(8.0, 0.9 * len(rows) + 2), 5.5))
    for offset, column, label, colour in ((-width, 1, "risklist (ours), 1 worker", "#1f77b4"),
                                          (0.0, 2, "ceiling: same grpcio, empty handlers", "#7f7f7f"),
                                          (width, 3, "Redis (redis-benchmark)", "#d62728")):
        axes.bar([p + offset for p in positions], [row[column] or math.nan for row in rows], width, label=label,
                 color=colour)
    axes.set_yscale("log")
    axes.set_ylabel("server CPU-µs per key (log): lower is cheaper")
    axes.set_xticks(list(positions))
    axes.set_xticklabels([row[0] for row in rows], rotation=30, ha="right", fontsize=8)
    axes.legend(loc="upper right", fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    machine = document.get("machine", {})
    figure.suptitle(f"What a key costs the server — {document.get('mode', '')} mode, {machine.get('date', '')}, "
                    f"{machine.get('cores', '?')} cores", fontsize=10)
    _save(figure, path)


def _save(figure: Any, path: Path) -> None:
    """Lay `figure` out, write it to `path` as a PNG and free it."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
