"""The native scenario end to end: h2load against a real risklist-server and the ceiling server, redis-benchmark
against a real redis-server, on a tiny store (issue 16). Needs h2load and redis-server: `make test` installs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.context import Context, Settings
from benchmarks.dataset import Dataset
from benchmarks.loadgen import ClientPool
from benchmarks.redis_peer import RedisServer
from benchmarks.results import ScenarioResult
from benchmarks.scenarios import bulk_load, native

TINY = Settings(duration=0.5, warmup=0.1, queries=4000, batch_sizes=(10,), client_processes=1, client_threads=1)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ScenarioResult]]:
    root = tmp_path_factory.mktemp("native-data")
    dataset = Dataset(2000, 5, root=root)
    workdir = root / "work"
    workdir.mkdir()
    assert bulk_load.ensure_store(dataset, workdir) is not None
    with RedisServer() as redis, ClientPool(TINY.client_processes) as clients:
        context = Context(TINY, dataset, dataset.queries(TINY.queries), workdir, clients, redis)
        yield {result.name: result for result in native.run(context)}


def test_every_shape_is_measured_against_ours_the_ceiling_and_redis(results: dict[str, ScenarioResult]) -> None:
    """Each shape: completed calls, server CPU per key and per RPC for ours and the ceiling, Redis's for the
    shapes it has (GET, MGET), and the ratios between them."""
    shapes = ["native.check.w1", "native.batch.digest.10.w1", "native.batch.raw.10.w1",
              f"native.stream.{native.STREAM_MESSAGES}x{native.STREAM_SIZE}.w1"]
    assert set(shapes) <= set(results)
    for name in shapes:
        result = results[name]
        statuses = result.extra["grpc_status"]
        assert isinstance(statuses, dict) and statuses.get("OK", 0) > 0
        assert set(statuses) <= {"OK", "CANCELLED"}  # h2load cancels what is in flight when its time is up
        assert result.ops_per_s > 0 and result.extra["server_cpu_us_per_key"] > 0
        assert result.peers["ceiling"]["server_cpu_us_per_rpc"] > 0
        assert result.ratio["of ceiling (RPC/s)"] > 0
        if "stream" not in name:
            redis = result.peers["redis_benchmark"]
            assert redis["ops_per_s"] > 0 and redis["server_cpu_us_per_key"] > 0
            assert result.ratio["redis CPU per key / ours"] > 0


def test_the_ceilings_other_arrangements_are_measured_beside_it(results: dict[str, ScenarioResult]) -> None:
    for name in ("native.check.w1", "native.batch.digest.10.w1"):
        for arrangement in native.OTHER_ARRANGEMENTS:
            assert results[name].peers[f"ceiling_{arrangement}"]["rpc_per_s"] > 0
            assert results[name].ratio[f"ceiling {arrangement} / ceiling (RPC/s)"] > 0


def test_check_at_half_of_peak_runs_pinned_and_two_workers_are_compared(results: dict[str, ScenarioResult]) -> None:
    pinned = results["native.check.w1.open50.pinned"]
    assert pinned.params["loadgen_cpus"] != pinned.params["server_cpus"]
    assert pinned.latency_ms is not None and pinned.latency_ms["p99"] > 0
    ceiling_latency = pinned.peers["ceiling"]["latency_ms"]
    assert isinstance(ceiling_latency, dict) and ceiling_latency["p99"] > 0  # the ceiling under the same pinned load
    assert pinned.ratio["p99, ours / ceiling"] > 0
    for name in ("native.check.w2", "native.batch.digest.10.w2"):
        assert results[name].ratio["2 workers / 1 worker (CPU-normalised)"] > 0
