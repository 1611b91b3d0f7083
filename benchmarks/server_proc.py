"""A risklist-server for a benchmark: started through risklist_server.process.launch, its CPU/RSS sampled."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procstats import TreeSampler
from risklist_server.core.errors import ServerDidNotStop
from risklist_server.process.launch import SERVER, LaunchedServer, launch


@functools.cache
def server_options() -> frozenset[str]:
    """The long options this risklist-server accepts (from its --help)."""
    text = subprocess.run([str(SERVER), "--help"], capture_output=True, text=True, check=True).stdout
    return frozenset(word.rstrip(",=") for word in text.split() if word.startswith("--"))


def supports_workers() -> bool:
    """Whether the server has --workers and --metrics-listen (multi-process serving)."""
    return {"--workers", "--metrics-listen"} <= server_options()


@dataclass
class RunningServer:
    """A started server (risklist_server.process.launch) with its CPU/RSS sampled.

    `metrics_port` is None when the server has no metrics endpoint.
    """

    launched: LaunchedServer
    workers: int
    sampler: TreeSampler
    audit_dir: str | None = None
    """A temporary --audit-dir, removed at stop (a batch benchmark writes ~17 bytes per key)."""
    metrics_error: str | None = None
    """Why the last /metrics scrape failed, if it did (statuses are then not counted)."""

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.launched.process

    @property
    def serving_line(self) -> dict[str, object]:
        return self.launched.serving

    @property
    def port(self) -> int:
        return self.launched.port

    @property
    def admin_port(self) -> int:
        return self.launched.admin_port

    @property
    def metrics_port(self) -> int | None:
        return self.launched.metrics_port

    @property
    def address(self) -> str:
        return self.launched.address

    @property
    def admin_address(self) -> str:
        return self.launched.admin_address

    def log_tail(self) -> str:
        """The last few KiB the server wrote to stderr."""
        return self.launched.output()[-4000:]

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait (kill the process group after `timeout`), stop sampling; return the exit code."""
        try:
            code = self.launched.terminate(timeout)
        except ServerDidNotStop:
            code = self.process.returncode
        self.sampler.stop()
        if self.audit_dir is not None:
            shutil.rmtree(self.audit_dir, ignore_errors=True)
        return code

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_server(db: Path, secret_file: Path, *, workers: int | None = None, threads: int | None = None,
                 startup_timeout: float = 600.0, extra: Sequence[str] = ()) -> RunningServer:
    """Start risklist-server on port 0 everywhere; return once it serves (ServerDidNotStart if it never does).

    `workers` is passed only when the server supports it (None: its default, the CPU count); `extra` flags are
    passed as they are (a cluster node's).
    """
    arguments: list[str] = []
    if "--insecure-dev" in server_options():
        arguments.append("--insecure-dev")  # the harness measures the service, not TLS
    multi = supports_workers()
    if multi:
        arguments += ["--metrics-listen", "127.0.0.1:0"]
        if workers is not None:
            arguments += ["--workers", str(workers)]
    if threads is not None:
        arguments += ["--threads", str(threads)]
    audit_dir = None
    if "--audit-dir" in server_options():
        audit_dir = tempfile.mkdtemp(prefix="risklist-bench-audit-")
        arguments += ["--audit-dir", audit_dir]
    try:
        launched = launch(db, secret_file, [*arguments, *extra], startup_timeout=startup_timeout, keep_log=False)
    except BaseException:
        if audit_dir is not None:
            shutil.rmtree(audit_dir, ignore_errors=True)
        raise
    serving_workers = int(str(launched.serving.get("workers", workers or 1))) if multi else 1
    return RunningServer(launched, serving_workers, TreeSampler(launched.pid).start(), audit_dir)
