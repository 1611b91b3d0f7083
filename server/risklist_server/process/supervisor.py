"""The supervisor: forks the server's processes, restarts one that dies, drains them all on SIGTERM.

It never imports grpc, RocksDB or numpy, so every fork — the first and every restart —
happens in a process where no grpc object or library thread exists.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter

import structlog

from risklist_kernel.errors import RiskListError

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
WAITED_SIGNALS = STOP_SIGNALS | {signal.SIGCHLD}
STABLE_SECONDS = 30.0
"""A process that ran this long before dying is restarted at once; sooner, with growing back-off."""
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
KILL_AFTER_GRACE_SECONDS = 15.0
EXIT_REJOIN = 75
"""A cluster node's writer exits with this when the log no longer holds the entry it needs next: the supervisor
stops every process and returns it, and the node restores the cluster's checkpoint (process/serve.py)."""
_PR_SET_PDEATHSIG = 1

log = structlog.get_logger("risklist.supervisor")

ChildMain = Callable[[int], int]
"""Runs in the forked process with the write end of its readiness pipe; returns the exit code."""


class StartupFailed(RiskListError):
    """A process exited before it reported that it serves."""


class StopRequested(Exception):
    """SIGTERM/SIGINT arrived while waiting for a process to start."""


@dataclass
class Child:
    """One supervised process: its entry point (writer or reader) and its current incarnation."""

    name: str
    main: ChildMain
    pid: int = 0
    started_at: float = 0.0
    ports: dict[str, int] = field(default_factory=dict)
    backoff: float = 0.0
    restart_at: float | None = None


def describe_status(status: int) -> str:
    """'exit code 1' or 'signal SIGKILL' for a waitpid status."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"signal {signal.Signals(number).name}"
        except ValueError:
            return f"signal {number}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


class Supervisor:
    """Starts children in order, keeps them running, stops them together."""

    def __init__(self, *, grace: float, on_exit: Callable[[int], None] = lambda _pid: None) -> None:
        self._children: list[Child] = []
        self._groups: list[list[Child]] = []
        self._grace = grace
        self._on_exit = on_exit
        self._rejoin = False

    @property
    def children(self) -> list[Child]:
        return list(self._children)

    def start(self, groups: list[list[Child]]) -> None:
        """Start each group's children together, a group only once the previous one serves."""
        for group in groups:
            pending = [(child, self._fork(child)) for child in group]
            self._children.extend(group)
            self._groups.append(group)
            for child, ready_fd in pending:
                child.ports = self._await_ready(child, ready_fd)

    def run_until_stopped(self) -> int:
        """Restart what dies until SIGTERM/SIGINT, or until a child exits with EXIT_REJOIN; then drain every child
        and return the exit code (EXIT_REJOIN for the latter)."""
        try:
            while True:
                received = signal.sigtimedwait(WAITED_SIGNALS, self._wait_seconds())
                if received is not None and received.si_signo in STOP_SIGNALS:
                    log.info("stop_requested", signal=signal.Signals(received.si_signo).name)
                    break
                self._reap()
                if self._rejoin:
                    break
                self._restart_due()
        except StopRequested:
            log.info("stop_requested", signal="during restart")
        code = self.stop()
        return EXIT_REJOIN if self._rejoin else code

    def stop(self) -> int:
        """Drain the groups in the reverse of their start order, each within the grace, then the next.

        The readers (started last) stop first, while the writer they forward writes to still
        runs, so a write in flight at SIGTERM finishes (or fails) cleanly before the writer goes.
        A group still running the grace plus KILL_AFTER_GRACE_SECONDS after its SIGTERM is killed.
        """
        failed = False
        for group in reversed(self._groups or [self._children]):
            failed |= self._stop_group(group)
        return 1 if failed else 0

    def _stop_group(self, group: list[Child]) -> bool:
        """SIGTERM the group's live children and wait for them; True if any exited non-zero."""
        live = {child.pid: child for child in group if child.pid}
        for pid in live:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self._grace + KILL_AFTER_GRACE_SECONDS
        failed = False
        child: Child | None
        while live:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                for pid, killed in live.items():
                    log.error("worker_killed", worker=killed.name, pid=pid,
                              reason=f"still running {self._grace + KILL_AFTER_GRACE_SECONDS:.0f} s after SIGTERM")
                    _signal(pid, signal.SIGKILL)
                remaining = 5.0
            signal.sigtimedwait({signal.SIGCHLD}, min(remaining, 1.0))
            for pid, status in _reaped():
                # Any child may exit here: this group's, or one of a group still to drain (reaped
                # now, not restarted, and no longer signalled).
                child = live.pop(pid) if pid in live else next((c for c in self._children if c.pid == pid), None)
                if child is None:
                    continue
                child.pid = 0
                failed |= status != 0
                self._on_exit(pid)
                if status != 0:
                    log.warning("worker_exited", worker=child.name, pid=pid, status=describe_status(status))
        return failed

    # ---- forking and readiness ---------------------------------------------------------

    def _fork(self, child: Child) -> int:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _run_child(child.main, write_fd)
        os.close(write_fd)
        child.pid, child.started_at = pid, time.monotonic()
        log.info("worker_started", worker=child.name, pid=pid)
        return read_fd

    def _await_ready(self, child: Child, ready_fd: int) -> dict[str, int]:
        """The ports the child reports once it serves; StartupFailed if it exits first."""
        received = b""
        try:
            while not received.endswith(b"\n"):
                if STOP_SIGNALS & signal.sigpending():
                    raise StopRequested()
                readable, _, _ = select.select([ready_fd], [], [], 0.5)
                if not readable:
                    continue
                chunk = os.read(ready_fd, 4096)
                if not chunk:
                    _, status = os.waitpid(child.pid, 0)
                    self._on_exit(child.pid)
                    child.pid = 0
                    raise StartupFailed(f"the {child.name} process stopped with {describe_status(status)} "
                                        "before serving (its error is above)")
                received += chunk
        finally:
            os.close(ready_fd)
        ports: dict[str, int] = json.loads(received)
        return ports

    # ---- restarts ----------------------------------------------------------------------

    def _wait_seconds(self) -> float:
        due = [child.restart_at for child in self._children if child.restart_at is not None]
        if not due:
            return 1.0
        return max(0.0, min(1.0, min(due) - time.monotonic()))

    def _reap(self) -> None:
        by_pid = {child.pid: child for child in self._children if child.pid}
        for pid, status in _reaped():
            child = by_pid.get(pid)
            if child is None:
                continue
            self._on_exit(pid)
            uptime = time.monotonic() - child.started_at
            child.pid = 0
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_REJOIN:
                log.warning("worker_rejoin_requested", worker=child.name, pid=pid)
                self._rejoin = True
                continue
            child.backoff = 0.0 if uptime >= STABLE_SECONDS else min(
                MAX_BACKOFF_SECONDS, max(FIRST_BACKOFF_SECONDS, child.backoff * 2))
            child.restart_at = time.monotonic() + child.backoff
            log.error("worker_died", worker=child.name, pid=pid, status=describe_status(status),
                      uptime_s=round(uptime, 1), restart_in_s=child.backoff)

    def _restart_due(self) -> None:
        now = time.monotonic()
        for child in self._children:
            if child.restart_at is None or child.restart_at > now:
                continue
            child.restart_at = None
            try:
                child.ports = self._await_ready(child, self._fork(child))
            except StartupFailed as error:
                child.backoff = min(MAX_BACKOFF_SECONDS, max(FIRST_BACKOFF_SECONDS, child.backoff * 2))
                child.restart_at = time.monotonic() + child.backoff
                log.error("worker_restart_failed", worker=child.name, error=str(error),
                          restart_in_s=child.backoff)
            else:
                _count_restart(child.name)
                log.info("worker_restarted", worker=child.name, pid=child.pid)


def _count_restart(worker: str) -> None:
    """risklist_worker_restarts_total{worker}: imported here, never before the metrics endpoint has set
    prometheus_client's multiprocess directory (process/metrics_endpoint.py), so it lands in /metrics."""
    import prometheus_client

    global _restarts
    if _restarts is None:
        _restarts = prometheus_client.Counter(
            "risklist_worker_restarts", "Server processes restarted after they died, by worker.", ["worker"])
    _restarts.labels(worker).inc()


_restarts: Counter | None = None


def _reaped() -> list[tuple[int, int]]:
    """(pid, status) of every child that has exited, without blocking."""
    exited = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        exited.append((pid, status))
    return exited


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def _run_child(main: ChildMain, ready_fd: int) -> None:
    """The forked process: die with the supervisor, run its entry point, never return into the parent's code."""
    code = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)  # the supervisor killed -9: drain and go
        if os.getppid() == 1:
            raise StartupFailed("the supervisor exited while this worker started")
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        code = main(ready_fd)
    except RiskListError as error:
        print(f"risklist-server: error: {error}", file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
