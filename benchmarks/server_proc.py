"""A risklist-server subprocess for a benchmark: free loopback ports, log drained, CPU/RSS sampled."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.procstats import TreeSampler

BIN = Path(sys.executable).parent
SERVER = str(BIN / "risklist-server")


@functools.cache
def server_options() -> frozenset[str]:
    """The long options this risklist-server accepts (from its --help)."""
    text = subprocess.run([SERVER, "--help"], capture_output=True, text=True, check=True).stdout
    return frozenset(word.rstrip(",=") for word in text.split() if word.startswith("--"))


def supports_workers() -> bool:
    """Whether the server has --workers and --metrics-listen (multi-process serving)."""
    return {"--workers", "--metrics-listen"} <= server_options()


@dataclass
class RunningServer:
    """A started server; `metrics_port` is None when the server has no metrics endpoint."""

    process: subprocess.Popen[bytes]
    port: int
    admin_port: int
    metrics_port: int | None
    workers: int
    sampler: TreeSampler
    serving_line: dict[str, object]
    audit_dir: str | None = None
    """A temporary --audit-dir, removed at stop (a batch benchmark writes ~17 bytes per key)."""
    metrics_error: str | None = None
    """Why the last /metrics scrape failed, if it did (statuses are then not counted)."""
    _tail: deque[bytes] = field(default_factory=lambda: deque(maxlen=64))
    _drain: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def admin_address(self) -> str:
        return f"127.0.0.1:{self.admin_port}"

    def start_draining(self) -> None:
        self._drain = threading.Thread(target=self._read, name="server-log", daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        fd = self.process.stderr.fileno()
        while chunk := os.read(fd, 1 << 16):
            self._tail.append(chunk)

    def log_tail(self) -> str:
        """The last few KiB the server wrote to stderr."""
        return b"".join(self._tail).decode("utf-8", "replace")[-4000:]

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait (kill after `timeout`), stop sampling; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        self.sampler.stop()
        if self._drain is not None:
            self._drain.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        if self.audit_dir is not None:
            shutil.rmtree(self.audit_dir, ignore_errors=True)
        return code

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_server(db: Path, secret_file: Path, *, workers: int | None = None, threads: int | None = None,
                 startup_timeout: float = 600.0) -> RunningServer:
    """Start risklist-server on port 0 everywhere; return once it logs `serving`.

    `workers` is passed only when the server supports it (None: its default, the CPU count).
    """
    command = [SERVER, "--db", str(db), "--secret-file", str(secret_file), "--listen", "127.0.0.1:0",
               "--admin-listen", "127.0.0.1:0", "--log-format", "json"]
    if "--insecure-dev" in server_options():
        command.append("--insecure-dev")  # the harness measures the service, not TLS
    multi = supports_workers()
    if multi:
        command += ["--metrics-listen", "127.0.0.1:0"]
        if workers is not None:
            command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    audit_dir = None
    if "--audit-dir" in server_options():
        audit_dir = tempfile.mkdtemp(prefix="risklist-bench-audit-")
        command += ["--audit-dir", audit_dir]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               start_new_session=True)
    assert process.stderr is not None
    timer = threading.Timer(startup_timeout, process.kill)
    timer.start()
    seen: list[bytes] = []
    try:
        for raw in process.stderr:
            seen.append(raw)
            if not raw.startswith(b"{"):
                continue
            entry = json.loads(raw)
            if entry.get("event") == "serving":
                metrics = entry.get("metrics_port")
                running = RunningServer(
                    process, int(entry["port"]), int(entry["admin_port"]),
                    None if metrics is None else int(metrics),
                    int(entry.get("workers", workers or 1)) if multi else 1,
                    TreeSampler(process.pid).start(), entry, audit_dir,
                )
                running.start_draining()
                return running
    finally:
        timer.cancel()
    process.wait()
    if audit_dir is not None:
        shutil.rmtree(audit_dir, ignore_errors=True)
    tail = b"".join(seen[-20:]).decode("utf-8", "replace")
    raise RuntimeError(f"risklist-server exited {process.returncode} before serving:\n{tail}")
