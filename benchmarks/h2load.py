"""Driving h2load (nghttp2-client) as a gRPC load generator: several processes, one body each."""

from __future__ import annotations

import math
import re
import resource
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.grpc_frames import GRPC_HEADERS
from benchmarks.stats import Latency, summarise_ms

_REQUESTS = re.compile(
    r"requests: (?P<total>\d+) total, (?P<started>\d+) started, (?P<done>\d+) done, "
    r"(?P<succeeded>\d+) succeeded, (?P<failed>\d+) failed, (?P<errored>\d+) errored, (?P<timeout>\d+) timeout"
)
_STATUS = re.compile(r"status codes: (?P<s2xx>\d+) 2xx, (?P<s3xx>\d+) 3xx, (?P<s4xx>\d+) 4xx, (?P<s5xx>\d+) 5xx")


def available() -> bool:
    """Whether h2load is on PATH."""
    return shutil.which("h2load") is not None


@dataclass(frozen=True, slots=True)
class Job:
    """One h2load process: a request body file, its connections and streams per connection, and
    an optional request rate per connection (open loop)."""

    body: Path
    connections: int
    streams: int = 1
    rps_per_connection: float | None = None


@dataclass(frozen=True, slots=True)
class Counts:
    """h2load's own request counters (a failed gRPC call still counts as succeeded: HTTP 200)."""

    done: int
    succeeded: int
    failed: int
    errored: int
    timeout: int
    status_2xx: int


def parse_output(text: str) -> Counts:
    """The counters from h2load's summary; raise ValueError if the summary is missing."""
    requests, status = _REQUESTS.search(text), _STATUS.search(text)
    if requests is None or status is None:
        raise ValueError(f"no h2load summary in output:\n{text[-2000:]}")
    return Counts(int(requests["done"]), int(requests["succeeded"]), int(requests["failed"]),
                  int(requests["errored"]), int(requests["timeout"]), int(status["s2xx"]))


def parse_timed_log(text: str) -> list[tuple[float, float]]:
    """(start in s, latency in ms) of successful streams from an h2load --log-file (start µs, status, µs)."""
    timed: list[tuple[float, float]] = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1] == "200":
            timed.append((int(parts[0]) / 1e6, int(parts[2]) / 1000.0))
    return timed


def parse_log(text: str) -> list[float]:
    """Latencies in ms of successful streams from an h2load --log-file."""
    return [latency for _, latency in parse_timed_log(text)]


def command(url: str, job: Job, *, duration: float, warmup: float, log_file: Path,
            cpus: str | None = None) -> list[str]:
    """The h2load command line for one job (h2c, gRPC headers, POST of the body file); with `cpus`, run under
    taskset on those CPUs (its own core, away from the server's)."""
    pinned = ["taskset", "-c", cpus] if cpus is not None else []
    argv = [*pinned, "h2load", "-D", f"{math.ceil(duration * 1000)}ms", "-c", str(job.connections),
            "-m", str(job.streams), "-t", "1", "-d", str(job.body), "--log-file", str(log_file)]
    if warmup > 0:
        argv += ["--warm-up-time", f"{math.ceil(warmup * 1000)}ms"]
    if job.rps_per_connection is not None:
        argv += ["--rps", f"{job.rps_per_connection:g}"]
    for header in GRPC_HEADERS:
        argv += ["-H", header]
    return [*argv, url]


@dataclass(frozen=True, slots=True)
class Result:
    """All jobs of one measurement together: completed requests per second and latencies."""

    requests: int
    duration_s: float
    counts: tuple[Counts, ...]
    latency: Latency
    cpu_s: float = 0.0
    """CPU seconds all h2load processes used (the load generator's own cost)."""
    timed_ms: tuple[tuple[float, float], ...] = ()
    """(seconds from the first call's start, latency in ms) of every successful call, in start order."""

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def failed(self) -> int:
        return sum(count.failed + count.errored + count.timeout for count in self.counts)


def run(url: str, jobs: Sequence[Job], *, duration: float, warmup: float, workdir: Path,
        cpus: str | None = None) -> Result:
    """Run every job as its own h2load process at the same time (all on `cpus` if given); combine their results."""
    workdir.mkdir(parents=True, exist_ok=True)
    logs = [workdir / f"h2load-{index}.log" for index in range(len(jobs))]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes = [
        subprocess.Popen(command(url, job, duration=duration, warmup=warmup, log_file=log, cpus=cpus),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for job, log in zip(jobs, logs, strict=True)
    ]
    outputs = [process.communicate(timeout=duration + warmup + 120)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise RuntimeError(f"h2load exited {process.returncode}:\n{output[-2000:]}")
    counts = tuple(parse_output(output) for output in outputs)
    timed: list[tuple[float, float]] = []
    for log in logs:
        timed.extend(parse_timed_log(log.read_text()))
        log.unlink()
    timed.sort()
    first = timed[0][0] if timed else 0.0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # children reaped meanwhile: the h2load processes
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    requests = sum(count.succeeded for count in counts)
    return Result(requests, duration, counts, summarise_ms(latency for _, latency in timed), cpu,
                  tuple((start - first, latency) for start, latency in timed))
