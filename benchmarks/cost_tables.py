"""What a key costs the server: one table per request shape, ours beside the ceiling and Redis (issue 16, item 6).

From the `native` scenario's results (h2load and redis-benchmark, no Python client in the loop): for each shape
a row for our server (one worker, and two where measured), the ceiling (the same grpcio and threads answering a
fixed response; other ways of serving it where measured) and Redis (redis-benchmark GET or MGET of as many keys).
Server CPU-µs per key leads: it is /proc CPU of every server process over the window, the figure this shared
machine's noise moves least. The pinned open-loop Check gets a latency table of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.report import number

HEADER = ("| server | server CPU-µs per key | per call | keys/s | calls/s | server cores | p50 ms | p99 ms "
          "| load generator |")
RULE = "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
ARRANGEMENTS = {"ceiling": "ceiling (empty handlers, our arrangement)",
                "ceiling_sync-unary": "ceiling, unary handlers",
                "ceiling_aio": "ceiling, grpc.aio"}
PINNED_SUFFIX = ".open50.pinned"


def shape_title(name: str) -> str:
    """A native scenario's name as a heading: 'native.batch.digest.100.w1' -> 'BatchCheck of 100 digests'."""
    parts = name.split(".")
    if parts[1] == "check":
        return "Check (one raw value per call)"
    if parts[1] == "batch":
        return f"BatchCheck of {parts[3]} {'digests' if parts[2] == 'digest' else 'raw values'}"
    if parts[1] == "stream":
        messages, size = parts[2].split("x")
        return f"StreamCheck ({messages} messages of {size} digests per stream; a call is a stream)"
    return name


def _ours(label: str, scenario: Mapping[str, Any]) -> str:
    extra = scenario.get("extra") or {}
    latency = scenario.get("latency_ms") or {}
    return (f"| {label} | **{number(extra.get('server_cpu_us_per_key'))}**"
            f" | {number(extra.get('server_cpu_us_per_rpc'))} | {number(scenario.get('ops_per_s'))}"
            f" | {number(extra.get('rpc_per_s'))}"
            f" | {number(extra.get('server_cores_used'))} | {number(latency.get('p50'))} | {number(latency.get('p99'))}"
            f" | h2load, {number(extra.get('loadgen_cores_used'))} cores |")


def _ceiling(label: str, peer: Mapping[str, Any]) -> str:
    latency = peer.get("latency_ms") or {}
    return (f"| {label} | {number(peer.get('server_cpu_us_per_key'))} | {number(peer.get('server_cpu_us_per_rpc'))}"
            f" | {number(peer.get('keys_per_s'))} | {number(peer.get('rpc_per_s'))}"
            f" | {number(peer.get('server_cores_used'))} | {number(latency.get('p50'))} | {number(latency.get('p99'))}"
            f" | h2load, {number(peer.get('loadgen_cores_used'))} cores |")


def _redis(peer: Mapping[str, Any]) -> str:
    latency = peer.get("latency_ms") or {}
    return (f"| Redis ({peer.get('tool', 'redis-benchmark')}) | {number(peer.get('server_cpu_us_per_key'))}"
            f" | {number(peer.get('server_cpu_us_per_call'))} | {number(peer.get('ops_per_s'))}"
            f" | {number(peer.get('calls_per_s'))} | — | {number(latency.get('p50'))} | {number(latency.get('p99'))}"
            f" | redis-benchmark, {number(peer.get('loadgen_cpu_s'))} CPU-s |")


def shape_table(scenario: Mapping[str, Any], two_workers: Mapping[str, Any] | None) -> str:
    """The rows of one shape: ours (1 worker, then 2), each way of serving the ceiling, Redis; then the ratios."""
    peers: Mapping[str, Mapping[str, Any]] = scenario.get("peers") or {}
    lines = [HEADER, RULE, _ours("**risklist**, 1 worker", scenario)]
    if two_workers is not None:
        lines.append(_ours("risklist, 2 workers", two_workers))
    lines += [_ceiling(label, peers[key]) for key, label in ARRANGEMENTS.items() if key in peers]
    if "redis_benchmark" in peers:
        lines.append(_redis(peers["redis_benchmark"]))
    ratios = {**(scenario.get("ratio") or {}), **((two_workers or {}).get("ratio") or {})}
    if ratios:
        lines += ["", "; ".join(f"{name}: **{number(value)}**" for name, value in ratios.items())]
    return "\n".join(lines)


def pinned_table(scenario: Mapping[str, Any]) -> str:
    """The pinned open-loop Check: ours and the ceiling under the same load, by latency."""
    lines = ["| server | calls/s achieved | p50 ms | p99 ms | p99.9 ms |", "| --- | ---: | ---: | ---: | ---: |"]
    peers: Mapping[str, Mapping[str, Any]] = scenario.get("peers") or {}
    for label, figures in (("**risklist**, 1 worker", scenario),
                           *((ARRANGEMENTS.get(key, key), peer) for key, peer in peers.items())):
        latency = figures.get("latency_ms") or {}
        lines.append(f"| {label} | {number(figures.get('ops_per_s'))} | {number(latency.get('p50'))}"
                     f" | {number(latency.get('p99'))} | {number(latency.get('p99.9'))} |")
    ratios = scenario.get("ratio") or {}
    if ratios:
        lines += ["", "; ".join(f"{name}: **{number(value)}**" for name, value in ratios.items())]
    return "\n".join(lines)


def one_worker_shapes(scenarios: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The native scenarios that measured one shape on one worker (each has its table and its bars)."""
    return [scenario for scenario in scenarios
            if scenario.get("group") == "native" and str(scenario["name"]).endswith(".w1")]


def cost_tables(scenarios: Sequence[Mapping[str, Any]]) -> str:
    """The markdown of every native shape's table ('' if the run measured none)."""
    by_name = {scenario["name"]: scenario for scenario in scenarios}
    parts: list[str] = []
    for scenario in one_worker_shapes(scenarios):
        name = scenario["name"]
        parts += [f"**{shape_title(name)}**", "", shape_table(scenario, by_name.get(name[:-3] + ".w2")), ""]
    pinned = next((scenario for name, scenario in by_name.items() if name.endswith(PINNED_SUFFIX)), None)
    if pinned is not None:
        parts += ["**Check at half of one worker's peak, open loop, h2load and the server pinned to their own cores**",
                  "", pinned_table(pinned), ""]
    if not parts:
        return ""
    return "\n".join(["### What a key costs the server (native load generators)", "", *parts])
