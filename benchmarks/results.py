"""Scenario results: one object per scenario, medians over runs, and the JSON document."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.stats import Latency, median, median_of_runs

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass
class ScenarioResult:
    """One scenario's figures in one run: throughput (`ops_per_s` in `unit`), latency, peers, ratios.

    `peers` maps a peer's name to its figures measured in the same run on the same data;
    `ratio` maps "name" to ours / that peer's throughput (or another stated quotient).
    """

    name: str
    group: str
    params: dict[str, Any]
    ops_per_s: float
    unit: str
    latency_ms: dict[str, float] | None = None
    peers: dict[str, dict[str, Any]] = field(default_factory=dict)
    ratio: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "group": self.group, "params": self.params, "unit": self.unit,
                "ops_per_s": self.ops_per_s, "latency_ms": self.latency_ms, "peers": self.peers,
                "ratio": self.ratio, "extra": self.extra}


def latency_dict(latency: Latency) -> dict[str, float]:
    """The percentiles a result reports, in ms."""
    return {"p50": latency.p50_ms, "p99": latency.p99_ms, "p99.9": latency.p999_ms}


def peer_figures(ops_per_s: float, unit: str, latency: Latency | None = None, **extra: Any) -> dict[str, Any]:
    """A peer's entry in ScenarioResult.peers."""
    figures: dict[str, Any] = {"ops_per_s": ops_per_s, "unit": unit}
    if latency is not None:
        figures["latency_ms"] = latency_dict(latency)
    figures.update(extra)
    return figures


def merge_runs(runs: Sequence[Sequence[ScenarioResult]]) -> list[dict[str, Any]]:
    """Per scenario name (in first-seen order), the median of every figure over the runs that
    have it, with each run's throughput and ratios kept under `runs`."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for result in run:
            by_name.setdefault(result.name, []).append(result.to_dict())
    merged: list[dict[str, Any]] = []
    for name, results in by_name.items():
        combined = median_of_runs(results)
        combined["params"] = results[0]["params"]
        combined["ops_per_s"] = median(float(result["ops_per_s"]) for result in results)
        combined["runs"] = [{"ops_per_s": result["ops_per_s"], "ratio": result["ratio"]} for result in results]
        combined["name"] = name
        merged.append(combined)
    return merged


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, floats are rounded to 4 significant places."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.4g}") if abs(value) < 1e4 else round(value)
    if isinstance(value, Mapping):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def document(*, name: str, command: str, mode: str, params: Mapping[str, Any], machine: Mapping[str, Any],
             scenarios: Sequence[Mapping[str, Any]], targets: Sequence[Mapping[str, Any]],
             notes: Sequence[str]) -> dict[str, Any]:
    """The results JSON: what ran, where, each scenario's medians, and the issue's targets."""
    cleaned: dict[str, Any] = _clean({"benchmark": name, "command": command, "mode": mode, "params": dict(params),
                   "machine": dict(machine), "scenarios": list(scenarios), "targets": list(targets),
                   "notes": list(notes)})
    return cleaned


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write atomically (a .tmp file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    partial.replace(path)
