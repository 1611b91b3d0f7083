"""The issue's targets (issue 3, section 3), checked against a run's merged scenario results."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Scenarios = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Target:
    """One target: a description, how to read the measured figure, and the bound it must meet."""

    text: str
    read: Callable[[Scenarios], float | None]
    bound: float
    at_least: bool = True

    def check(self, scenarios: Scenarios) -> dict[str, Any]:
        try:
            measured = self.read(scenarios)
        except (KeyError, TypeError, ValueError):
            measured = None
        met = None if measured is None else (measured >= self.bound if self.at_least else measured <= self.bound)
        bound = ("≥ " if self.at_least else "≤ ") + f"{self.bound:g}"
        return {"target": self.text, "measured": measured, "bound": bound, "met": met}


def _path(name: str, *keys: str) -> Callable[[Scenarios], float | None]:
    def read(scenarios: Scenarios) -> float | None:
        value: Any = scenarios[name]
        for key in keys:
            value = value[key]
        return None if value is None else float(value)
    return read


def _open50_p99(scenarios: Scenarios) -> float | None:
    names = sorted((name for name in scenarios if name.startswith("check.w") and name.endswith(".open50")),
                   key=lambda name: int(name.split(".")[1][1:]))
    if not names:
        return None
    latency = scenarios[names[-1]]["latency_ms"]
    return None if latency is None else float(latency["p99"])


TARGETS: tuple[Target, ...] = (
    Target("BatchCheck, 1000 digests/RPC, 99% misses: keys/s ÷ redis-py MGET of 1000",
           _path("batch.digest.1000", "ratio", "vs redis MGET"), 2.0),
    Target("In-process batch of 1000 (front + store) ÷ rocksdict multi-get alone",
           _path("inprocess.batch.1000", "ratio", "vs rocksdict multi-get"), 3.0),
    Target("Check (h2load): RPC/s of 2 workers ÷ 1 worker", _path("check.peak", "ratio", "2 workers / 1 worker"),
           1.7),
    Target("Check p99 at 50% of peak rate (most workers), ms", _open50_p99, 2.0, at_least=False),
    Target("Bulk load, rows/s end to end (risklist-load --db)", _path("bulk_load", "ops_per_s"), 250_000),
    Target("Bulk load rows/s ÷ redis-py pipelined SET keys/s", _path("bulk_load", "ratio", "vs redis pipelined SET"),
           2.5),
    Target("Bulk load peak RSS, MiB", _path("bulk_load", "extra", "loader", "peak_rss_mib"), 1536, at_least=False),
    Target("Partner check() with pre-screen, checks/s ÷ redis-py GET (99% misses, one thread)",
           _path("partner.check", "ratio", "vs redis GET"), 10.0),
    Target("Partner check() with pre-screen, p99 ms", _path("partner.check", "latency_ms", "p99"), 1.0,
           at_least=False),
    Target("Acknowledged load visible on every connection, slowest of the sample, ms",
           _path("live_load.ingest", "extra", "visible_ms", "max"), 100, at_least=False),
    # Issue 16: native load generators (scenario native), ours against the ceiling server in the same run.
    Target("Check (h2load), 1 worker: RPC/s of the ceiling's", _path("native.check.w1", "ratio", "of ceiling (RPC/s)"),
           0.8),
    Target("BatchCheck 1000 digests (h2load), 1 worker: RPC/s of the ceiling's",
           _path("native.batch.digest.1000.w1", "ratio", "of ceiling (RPC/s)"), 0.8),
    Target("Check (h2load): 2 workers ÷ 1 worker, CPU-normalised",
           _path("native.check.w2", "ratio", "2 workers / 1 worker (CPU-normalised)"), 1.7),
    Target("Check p99 at 50% of 1 worker's peak, h2load and server pinned to their own cores, ms",
           _path("native.check.w1.open50.pinned", "latency_ms", "p99"), 2.0, at_least=False),
    # Issue 14, item 9: three nodes and three nats-servers on this one machine (scenario cluster).
    Target("Cluster: Reports/s sustained open loop at node 1 (1,000/s asked)",
           _path("cluster_replication_lag", "ops_per_s"), 990),
    Target("Cluster: replication lag p99, acknowledgement to listed on both other nodes, ms",
           _path("cluster_replication_lag", "latency_ms", "p99"), 250, at_least=False),
    Target("Cluster: risklist-load --server through a node, rows/s", _path("cluster_load", "ops_per_s"), 100_000),
)


def check_targets(scenarios: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each target with its measured figure (None when its scenario did not run) and whether it is met."""
    by_name = {str(scenario["name"]): scenario for scenario in scenarios}
    return [target.check(by_name) for target in TARGETS]
