"""redis-benchmark as Redis's native load generator: its command line, its CSV, and a real run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks import redis_bench
from benchmarks.redis_peer import RedisServer, free_port

CSV = ('"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",'
       '"max_latency_ms"\n"MGET key:__rand_int__ key:__rand_int__","60606.06","0.170","0.040","0.167","0.271",'
       '"0.375","2.151"\n')


def test_the_csv_gives_calls_per_second_and_latency() -> None:
    assert redis_bench.parse_csv(CSV) == (60606.06, 0.167, 0.375)


def test_output_without_a_result_row_is_an_error() -> None:
    with pytest.raises(ValueError, match="no redis-benchmark result"):
        redis_bench.parse_csv("Could not connect to Redis at 127.0.0.1:1: Connection refused\n")


def test_one_key_is_a_get_and_more_an_mget_of_fresh_random_keys() -> None:
    """Each key of a call is its own __rand_int__ below the keyspace; one thread, CSV out."""
    get = redis_bench.command(6379, 1, requests=100, clients=4, keyspace=1000)
    mget = redis_bench.command(6379, 3, requests=100, clients=4, keyspace=1000)
    assert get[-2:] == ["GET", "key:__rand_int__"]
    assert mget[-4:] == ["MGET", *["key:__rand_int__"] * 3]
    pairs = dict(zip(get[1:-2:2], get[2:-2:2], strict=False))
    assert (pairs["-n"], pairs["-c"], pairs["-r"], pairs["--threads"]) == ("100", "4", "1000", "1")


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def test_numbered_keys_are_the_ones_redis_benchmark_asks_for(redis: RedisServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """key: and twelve digits, as __rand_int__ makes them, each with a value of the size asked, whatever the
    number of commands piped at a time."""
    monkeypatch.setattr(redis_bench, "PIPE_COMMANDS", 7)
    redis_bench.load_numbered_keys(redis.port, 50, 16)
    assert redis.client.get("key:000000000000") == redis.client.get("key:000000000049") == b"v" * 16
    assert redis.client.get("key:000000000050") is None
    assert redis.client.dbsize() >= 50


def test_a_run_measures_calls_and_its_own_cpu(redis: RedisServer) -> None:
    result = redis_bench.run(redis.port, 10, requests=500, clients=2, keyspace=5000)
    assert result.requests == 500 and result.requests_per_s > 0 and result.keys_per_s == result.requests_per_s * 10
    assert result.p99_ms >= result.p50_ms > 0 and result.client_cpu_s >= 0


def test_no_redis_on_the_port_is_a_clear_error() -> None:
    """redis-benchmark itself would retry for ever: the run asks first, and says which port did not answer."""
    port = free_port()
    with pytest.raises(RuntimeError, match=f"no Redis answers on 127.0.0.1:{port}"):
        redis_bench.run(port, 1, requests=10, clients=1, keyspace=10)
