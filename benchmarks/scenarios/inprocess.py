"""The in-process ceiling: our lookup path (front + store) against rocksdict alone, no gRPC."""

from __future__ import annotations

from benchmarks import inprocess
from benchmarks.context import Context
from benchmarks.dataset import copy_store
from benchmarks.results import ScenarioResult, peer_figures
from benchmarks.stats import ratio


def run(ctx: Context) -> list[ScenarioResult]:
    """Single-key lookup and lookup_many at each batch size on the query stream's keys."""
    copy = copy_store(ctx.store, ctx.workdir / f"store-inprocess-{ctx.run}")
    figures = inprocess.measure(copy, ctx.dataset.secret.fingerprint, ctx.queries.keys, ctx.settings.batch_sizes,
                                min_seconds=ctx.settings.inprocess_seconds)
    ctx.memo[f"run{ctx.run}:inprocess"] = figures
    params = {"queries": len(ctx.queries), "hit_ratio": 0.01}
    results = [ScenarioResult(
        "inprocess.single", "inprocess", {**params, "batch": 1}, figures["store_lookup"], "keys/s",
        peers={"rocksdict_get": peer_figures(figures["rocksdict_get"], "keys/s")},
        ratio={"vs rocksdict get": ratio(figures["store_lookup"], figures["rocksdict_get"])})]
    for size in ctx.settings.batch_sizes:
        ours, rocks = figures[f"store_lookup_many_{size}"], figures[f"rocksdict_multi_get_{size}"]
        results.append(ScenarioResult(
            f"inprocess.batch.{size}", "inprocess", {**params, "batch": size}, ours, "keys/s",
            peers={"rocksdict_multi_get": peer_figures(rocks, "keys/s")},
            ratio={"vs rocksdict multi-get": ratio(ours, rocks)}))
    return results
