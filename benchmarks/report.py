"""Markdown rendering of a results document: the scenario table and the targets table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def number(value: Any) -> str:
    """Human figures: 1,234,567 / 12,345 / 12.3 / 0.123; '—' when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, (int, float)):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in params.items())


def _peers(peers: Mapping[str, Mapping[str, Any]]) -> str:
    parts = []
    for name, figures in peers.items():
        text = f"{name}: {number(figures.get('ops_per_s'))} {figures.get('unit', '')}".rstrip()
        latency = figures.get("latency_ms")
        if isinstance(latency, Mapping):
            text += f" (p99 {number(latency.get('p99'))} ms)"
        parts.append(text)
    return "<br>".join(parts) or "—"


def _ratios(ratios: Mapping[str, Any]) -> str:
    return "<br>".join(f"{label}: **{number(value)}×**" for label, value in ratios.items()) or "—"


def scenario_table(scenarios: Sequence[Mapping[str, Any]]) -> str:
    """One row per scenario: params, throughput, latency percentiles, peers and ratios."""
    lines = ["| scenario | params | ours | p50 ms | p99 ms | p99.9 ms | peers (same run) | ratio |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for scenario in scenarios:
        latency = scenario.get("latency_ms") or {}
        lines.append(
            f"| {scenario['name']} | {_params(scenario.get('params', {}))} "
            f"| {number(scenario.get('ops_per_s'))} {scenario.get('unit', '')} "
            f"| {number(latency.get('p50'))} | {number(latency.get('p99'))} | {number(latency.get('p99.9'))} "
            f"| {_peers(scenario.get('peers', {}))} | {_ratios(scenario.get('ratio', {}))} |")
    return "\n".join(lines)


def targets_table(targets: Sequence[Mapping[str, Any]]) -> str:
    """The issue's targets: measured figure, bound, met or not (or not measured)."""
    lines = ["| target | measured | bound | met |", "| --- | ---: | ---: | :---: |"]
    for target in targets:
        met = target.get("met")
        verdict = "not measured" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {target['target']} | {number(target.get('measured'))} | {target['bound']} | {verdict} |")
    return "\n".join(lines)


PYTHON_CLIENT_GROUPS = frozenset({"batch", "stream", "partner", "live_load"})
"""Scenarios whose load comes from Python clients on the same machine: what a Python partner sees, with the
client's own cost inside every figure (the native scenario measures the server alone)."""


def render(document: Mapping[str, Any], headline: str = "") -> str:
    """The whole markdown report of a results document; `headline` (markdown) goes before the scenario tables."""
    machine = document.get("machine", {})
    params = document.get("params", {})
    parts = [
        f"Command: `{document.get('command', '')}` ({document.get('mode', '')} mode)",
        "",
        f"Date: {machine.get('date', '?')}; machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('memory_gib', '?')} GiB, Python {machine.get('python', '?')}",
        "",
        f"Data: {number(params.get('entries'))} entries (seed {params.get('seed')}), "
        f"{number(params.get('queries'))} queries (99% misses, 1% Zipf hits), "
        f"{params.get('runs')} run(s), medians; {params.get('duration_s')} s per measurement.",
        "",
    ]
    if headline:
        parts += [headline.rstrip("\n"), ""]
    scenarios = document.get("scenarios", [])
    server_side = [scenario for scenario in scenarios if scenario.get("group") not in PYTHON_CLIENT_GROUPS]
    python_side = [scenario for scenario in scenarios if scenario.get("group") in PYTHON_CLIENT_GROUPS]
    if server_side:
        parts += [scenario_table(server_side), ""]
    if python_side:
        parts += ["What a Python partner sees (Python clients on the same 2 cores, their cost inside every figure):",
                  "", scenario_table(python_side), ""]
    parts.append(targets_table(document.get("targets", [])))
    notes = document.get("notes") or []
    if notes:
        parts += ["", *[f"- {note}" for note in notes]]
    return "\n".join(parts) + "\n"
