"""Scenario: a partner's check() through the SDK, with the local pre-screen and without, against redis-py GET."""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.context import Context
from benchmarks.results import ScenarioResult, latency_dict, peer_figures
from benchmarks.stats import Latency, ratio, summarise_ms


def measure(call: Callable[[int], object], duration: float, warmup: float) -> tuple[float, Latency]:
    """Closed loop in this thread (a partner's request thread): calls/s and per-call latency."""
    index = 0
    deadline = time.perf_counter() + warmup
    while time.perf_counter() < deadline:
        call(index)
        index += 1
    samples: list[int] = []
    clock = time.perf_counter_ns
    started = clock()
    stop = started + int(duration * 1e9)
    now = started
    while now < stop:
        call(index)
        after = clock()
        samples.append(after - now)
        now = after
        index += 1
    return len(samples) / ((now - started) / 1e9), summarise_ms(sample / 1e6 for sample in samples)


def run(ctx: Context) -> list[ScenarioResult]:
    """check() per call on the query stream (99% misses), raw values in: with pre-screen (and the positive
    cache, the default), with the pre-screen alone, without either, and redis-py GET."""
    from risklist_client import RiskListClient

    values = ctx.queries.values
    count = len(values)
    listed = {"with": 0, "without": 0, "uncached": 0}
    calls = {"with": 0, "without": 0, "uncached": 0}

    def checked(client: RiskListClient, label: str) -> Callable[[int], object]:
        def call(index: int) -> object:
            entity_type, value = values[index % count]
            result = client.check(entity_type, value)
            listed[label] += result.listed
            calls[label] += 1
            return result
        return call

    settings = ctx.settings
    params = {"queries": count, "hit_ratio": 0.01, "threads": 1, "input": "raw values"}
    with ctx.server(ctx.serving_workers()) as server:
        with RiskListClient(server.address, secret=ctx.dataset.secret) as client:
            loaded_at = time.perf_counter()
            if not client.wait_for_filter(600):
                raise RuntimeError("the SDK did not load the filter within 600 s")
            load_seconds = time.perf_counter() - loaded_at
            ours, ours_latency = measure(checked(client, "with"), settings.duration, settings.warmup)
            metrics = client.metrics()
        # The pre-screen alone: every possible hit asks the server (positive cache off).
        with RiskListClient(server.address, secret=ctx.dataset.secret, positive_cache_seconds=0) as uncached_client:
            if not uncached_client.wait_for_filter(600):
                raise RuntimeError("the SDK did not load the filter within 600 s")
            uncached, uncached_latency = measure(checked(uncached_client, "uncached"), settings.duration,
                                                 settings.warmup)
        with RiskListClient(server.address, secret=ctx.dataset.secret, prescreen=False) as plain:
            without, without_latency = measure(checked(plain, "without"), settings.duration, settings.warmup)
    result = ScenarioResult(
        "partner.check", "partner", params, ours, "checks/s", latency_dict(ours_latency),
        peers={"sdk_without_prescreen": peer_figures(without, "checks/s", without_latency),
               "sdk_without_positive_cache": peer_figures(uncached, "checks/s", uncached_latency)},
        ratio={"vs without pre-screen": ratio(ours, without)},
        extra={"answered_locally_share": round(metrics.answered_locally / max(1, metrics.checks), 4),
               "answered_from_cache_share": round(metrics.answered_from_cache / max(1, metrics.checks), 4),
               "server_checks_share": round(metrics.server_checks / max(1, metrics.checks), 4),
               "filter_bytes": metrics.filter_bytes, "filter_keys": metrics.filter_keys,
               "bytes_per_key": round(metrics.filter_bytes / max(1, metrics.filter_keys), 2),
               "filter_load_s": round(load_seconds, 2), "fallback_checks": metrics.fallback_checks,
               # Listed answers per check with and without the filter: equal shares (it only skips misses).
               "listed_share": round(listed["with"] / max(1, calls["with"]), 4),
               "listed_share_without": round(listed["without"] / max(1, calls["without"]), 4)})
    if ctx.redis is not None:
        import redis

        connection = redis.Redis(host="127.0.0.1", port=int(ctx.redis.address.rsplit(":", 1)[1]))
        keys = ctx.queries.keys
        peer, peer_latency = measure(lambda index: connection.get(keys[index % count]), settings.duration,
                                     settings.warmup)
        connection.close()
        result.peers["redis_get"] = peer_figures(peer, "keys/s", peer_latency, input="precomputed digests")
        result.ratio["vs redis GET"] = ratio(ours, peer)
        result.ratio["without positive cache vs redis GET"] = ratio(uncached, peer)
    return [result]
