"""CPU time and resident memory of a process and all its descendants, read from /proc."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """One process: parent, command name, CPU seconds (user+system) so far, RSS and peak RSS bytes."""

    pid: int
    ppid: int
    name: str
    cpu_seconds: float
    rss_bytes: int
    hwm_bytes: int


def parse_stat(text: str) -> tuple[str, int, float, int]:
    """(comm, ppid, cpu seconds, rss bytes) from a /proc/<pid>/stat line."""
    left, right = text.index("("), text.rindex(")")
    name = text[left + 1 : right]
    fields = text[right + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
    ppid = int(fields[1])
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    rss = int(fields[21]) * _PAGE
    return name, ppid, cpu, rss


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over CPUs (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user/nice
    return (total - idle) / _TICKS, total / _TICKS


def read_proc(pid: int) -> ProcInfo | None:
    """The process's figures, or None once it has gone."""
    try:
        name, ppid, cpu, rss = parse_stat(Path(f"/proc/{pid}/stat").read_text())
        hwm = rss
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        return None
    return ProcInfo(pid, ppid, name, cpu, rss, hwm)


def descendants(root: int) -> list[int]:
    """`root` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            _, ppid, _, _ = parse_stat(Path(entry.path, "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, ()))
    return found


@dataclass
class TreeSampler:
    """Samples a process tree in a background thread: CPU seconds per process, peak tree RSS."""

    root: int
    interval: float = 0.25
    cpu_by_pid: dict[int, float] = field(default_factory=dict)
    name_by_pid: dict[int, str] = field(default_factory=dict)
    hwm_by_pid: dict[int, int] = field(default_factory=dict)
    peak_tree_rss_bytes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> TreeSampler:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """Read every process of the tree once."""
        infos = [info for pid in descendants(self.root) if (info := read_proc(pid)) is not None]
        with self._lock:
            total = 0
            for info in infos:
                self.cpu_by_pid[info.pid] = max(self.cpu_by_pid.get(info.pid, 0.0), info.cpu_seconds)
                self.name_by_pid[info.pid] = info.name
                self.hwm_by_pid[info.pid] = max(self.hwm_by_pid.get(info.pid, 0), info.hwm_bytes)
                total += info.rss_bytes
            self.peak_tree_rss_bytes = max(self.peak_tree_rss_bytes, total)

    def cpu_seconds(self) -> float:
        """CPU seconds used by every process of the tree seen so far."""
        with self._lock:
            return sum(self.cpu_by_pid.values())

    def cpu_by_process(self) -> dict[int, float]:
        """CPU seconds so far per process id of the tree."""
        with self._lock:
            return dict(self.cpu_by_pid)

    def summary(self) -> dict[str, object]:
        """Per-process CPU seconds and peak RSS (MiB), and the tree's peak RSS."""
        with self._lock:
            processes = [
                {"pid": pid, "name": self.name_by_pid.get(pid, "?"), "cpu_s": round(cpu, 2),
                 "peak_rss_mib": round(self.hwm_by_pid.get(pid, 0) / 2**20, 1)}
                for pid, cpu in sorted(self.cpu_by_pid.items())
            ]
            return {"processes": processes, "cpu_s": round(sum(self.cpu_by_pid.values()), 2),
                    "peak_rss_mib": round(self.peak_tree_rss_bytes / 2**20, 1)}
