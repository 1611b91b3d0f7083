"""Driving redis-benchmark (Debian's redis-tools) as Redis's native load generator: GET and MGET of k keys.

The keys are redis-benchmark's own: `key:` and twelve digits, `__rand_int__` drawn below `keyspace` for each key
of each request. load_numbered_keys puts `count` of them (key:000000000000 up) into the server with values of a
record's size, through redis-cli --pipe; a keyspace 100 times that makes 99% of the keys asked misses, as the
harness's queries to risklist are.
"""

from __future__ import annotations

import csv
import io
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

KEY_FORMAT = "key:{:012d}"


def available() -> bool:
    """Whether redis-benchmark and redis-cli are on PATH (Debian: redis-tools, a dependency of redis-server)."""
    return shutil.which("redis-benchmark") is not None and shutil.which("redis-cli") is not None


def _command(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in words)


PIPE_COMMANDS = 100_000
"""SET commands written to redis-cli --pipe at a time (the stream is never held whole: 10M keys are ~1 GB)."""


def load_numbered_keys(port: int, count: int, value_size: int) -> None:
    """SET key:000000000000 … key:<count - 1> to `value_size` bytes each, with redis-cli --pipe."""
    value = b"v" * value_size
    with tempfile.TemporaryFile() as output:
        pipe = subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                                stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT)
        assert pipe.stdin is not None
        try:
            for first in range(0, count, PIPE_COMMANDS):
                pipe.stdin.write(b"".join(_command(b"SET", KEY_FORMAT.format(number).encode(), value)
                                          for number in range(first, min(count, first + PIPE_COMMANDS))))
        finally:
            pipe.stdin.close()
            code = pipe.wait()
        output.seek(0)
        said = output.read()
    if code != 0 or b"errors: 0" not in said:
        raise RuntimeError(f"redis-cli --pipe failed ({code}): {said[-500:]!r}")


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One redis-benchmark run: requests (calls) per second, keys per call, latency per call, its own CPU."""

    requests_per_s: float
    keys_per_request: int
    requests: int
    p50_ms: float
    p99_ms: float
    seconds: float
    client_cpu_s: float

    @property
    def keys_per_s(self) -> float:
        return self.requests_per_s * self.keys_per_request


def parse_csv(text: str) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from redis-benchmark --csv output; ValueError without a result row."""
    rows = [row for row in csv.DictReader(io.StringIO(text)) if row.get("rps")]
    if not rows:
        raise ValueError(f"no redis-benchmark result in:\n{text[-2000:]}")
    row = rows[-1]
    return float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"])


def command(port: int, keys_per_request: int, *, requests: int, clients: int, keyspace: int) -> list[str]:
    """The redis-benchmark command line: GET for one key, MGET for more, each key a fresh __rand_int__."""
    verb = ["GET"] if keys_per_request == 1 else ["MGET"]
    return ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(requests), "-c", str(clients),
            "-r", str(keyspace), "--threads", "1", "--csv", *verb, *(["key:__rand_int__"] * keys_per_request)]


def run(port: int, keys_per_request: int, *, requests: int, clients: int, keyspace: int,
        cpus: str | None = None) -> BenchResult:
    """One redis-benchmark process (pinned to `cpus` with taskset if given) of `requests` calls."""
    # redis-benchmark retries for ever when nothing answers: ask first.
    ping = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"], capture_output=True, text=True,
                          check=False, timeout=30)
    if ping.stdout.strip() != "PONG":
        raise RuntimeError(f"no Redis answers on 127.0.0.1:{port}: {(ping.stdout + ping.stderr).strip()}")
    argv = command(port, keys_per_request, requests=requests, clients=clients, keyspace=keyspace)
    if cpus is not None:
        argv = ["taskset", "-c", cpus, *argv]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"redis-benchmark exited {done.returncode}: {done.stderr[-2000:]}")
    rate, p50, p99 = parse_csv(done.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return BenchResult(rate, keys_per_request, requests, p50, p99, seconds, cpu)


def run_for(port: int, keys_per_request: int, *, seconds: float, clients: int, keyspace: int,
            cpus: str | None = None) -> tuple[BenchResult, BenchResult]:
    """About `seconds` of redis-benchmark: a short probe sizes the request count of the measured run; (probe,
    measured run), the probe to count in a CPU window that covers both."""
    probe = run(port, keys_per_request, requests=max(200, 20_000 // keys_per_request), clients=clients,
                keyspace=keyspace, cpus=cpus)
    requests = max(1000, round(probe.requests_per_s * seconds))
    return probe, run(port, keys_per_request, requests=requests, clients=clients, keyspace=keyspace, cpus=cpus)
