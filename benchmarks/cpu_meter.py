"""Where a measured phase's CPU went: the servers under test, named helper processes, and the rest of the machine.

The cluster scenario runs three nodes, three nats-servers and the load generators on one 2-core machine; whether
a target rate fits depends on the CPU a write costs summed over all of them. Usage:

    with CpuMeter({"nodes": samplers}, {"nats": pids}) as meter:
        ...  # the measured phase
    meter.cpu_ms_per(count)  # {"nodes": ms, "nats": ms, "other": ms, "machine": ms} per operation
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType

from benchmarks.procstats import TreeSampler, machine_cpu_seconds, read_proc


class CpuMeter:
    """CPU seconds of each group over the `with` block: process trees (their samplers) and single processes (pids);
    "other" is the rest of the machine's busy time (load generators, the harness, the kernel)."""

    def __init__(self, trees: Mapping[str, Sequence[TreeSampler]], processes: Mapping[str, Sequence[int]]) -> None:
        self._trees = trees
        self._processes = processes
        self._start: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.wall_seconds = 0.0

    def _read(self) -> dict[str, float]:
        figures: dict[str, float] = {}
        for name, samplers in self._trees.items():
            for sampler in samplers:
                sampler.sample()
            figures[name] = sum(sampler.cpu_seconds() for sampler in samplers)
        for name, pids in self._processes.items():
            figures[name] = sum(info.cpu_seconds for pid in pids if (info := read_proc(pid)) is not None)
        figures["machine"] = machine_cpu_seconds()[0]
        figures["wall"] = time.monotonic()
        return figures

    def __enter__(self) -> CpuMeter:
        self._start = self._read()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        end = self._read()
        self.wall_seconds = end.pop("wall") - self._start["wall"]
        self.seconds = {name: end[name] - self._start[name] for name in end}
        self.seconds["other"] = self.seconds["machine"] - sum(
            seconds for name, seconds in self.seconds.items() if name != "machine")

    def cpu_ms_per(self, count: float) -> dict[str, float]:
        """CPU milliseconds per operation of each group, for `count` operations in the block."""
        return {name: round(1000 * seconds / count, 3) for name, seconds in self.seconds.items()} if count else {}

    def cores(self) -> float:
        """Cores the whole machine kept busy over the block, on average."""
        return self.seconds["machine"] / self.wall_seconds if self.wall_seconds else 0.0
