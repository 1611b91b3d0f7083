"""The Redis peer: a redis-server the harness starts on a free loopback port, loaded with our keys."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.child import stop_child
from benchmarks.procstats import TreeSampler
from tools.loopback_ports import free_ports

if TYPE_CHECKING:
    import redis

PIPELINE_BATCH = 1000


def available() -> bool:
    """Whether redis-server is on PATH."""
    return shutil.which("redis-server") is not None


def free_port() -> int:
    """A loopback TCP port nobody listens on right now, outside the kernel's ephemeral range."""
    return free_ports(1)[0]


class RedisServer:
    """redis-server with no persistence in a temporary directory; stopped (and removed) on exit."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="risklist-bench-redis-")
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._dir.name, "--logfile", str(Path(self._dir.name, "redis.log"))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            self.client = self._connect()
        except BaseException:  # no client library, or the server never answered: leave nothing running
            stop_child(self.process)
            self._dir.cleanup()
            raise
        self.sampler = TreeSampler(self.process.pid).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _connect(self, timeout: float = 30.0) -> redis.Redis:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)  # the server is still binding its port

    def flush(self) -> None:
        """Drop every key."""
        self.client.flushall()

    def load(self, chunks: Iterable[list[tuple[bytes, bytes]]]) -> tuple[int, float]:
        """Pipelined SET of every (key, value); return (keys, seconds spent in SET pipelines only).

        Reading the chunks (from our store) is not timed: only what a Redis loader would do is.
        """
        total, spent = 0, 0.0
        for chunk in chunks:
            started = time.perf_counter()
            for start in range(0, len(chunk), PIPELINE_BATCH):
                pipe = self.client.pipeline(transaction=False)
                for key, value in chunk[start : start + PIPELINE_BATCH]:
                    pipe.set(key, value)
                pipe.execute()
            spent += time.perf_counter() - started
            total += len(chunk)
        return total, spent

    def used_memory_bytes(self) -> int:
        info = self.client.info("memory")
        return int(str(info["used_memory"]))

    def stop(self) -> None:
        self.sampler.stop()
        stop_child(self.process)
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def chunked(items: Iterator[tuple[bytes, bytes]], size: int = 100_000) -> Iterator[list[tuple[bytes, bytes]]]:
    """Lists of up to `size` items."""
    chunk: list[tuple[bytes, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
