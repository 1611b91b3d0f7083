"""A risklist-server child for tests and benchmarks: start it, wait until it serves, read its log, stop it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from risklist_server.core.errors import ServerDidNotStart, ServerDidNotStop

SERVER = Path(sys.executable).parent / "risklist-server"
"""The risklist-server script installed next to the running interpreter."""

TAIL_LINES = 200
"""How many of the last stderr lines (JSON or not) a failure message can quote."""

LogLine = dict[str, object]


class LaunchedServer:
    """A started risklist-server: its ports from the `serving` log line, its log read in the background."""

    def __init__(self, process: subprocess.Popen[bytes], *, keep_log: bool) -> None:
        self.process = process
        self.log_lines: list[LogLine] = []
        """Every JSON log line so far (only when started with keep_log)."""
        self.serving: LogLine = {}
        """The supervisor's `serving` line: ports, worker pids, security; empty until it is logged."""
        self._keep_log = keep_log
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._changed = threading.Condition()
        self._ended = False
        self._drain = threading.Thread(target=self._read, name="risklist-server-log", daemon=True)
        self._drain.start()

    @property
    def pid(self) -> int:
        """The supervisor's process id (the workers are its children, in its process group)."""
        return self.process.pid

    @property
    def port(self) -> int:
        return int(str(self.serving["port"]))

    @property
    def admin_port(self) -> int:
        return int(str(self.serving["admin_port"]))

    @property
    def metrics_port(self) -> int | None:
        """The /metrics port, or None without --metrics-listen."""
        port = self.serving.get("metrics_port")
        return None if port is None else int(str(port))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def admin_address(self) -> str:
        return f"127.0.0.1:{self.admin_port}"

    def output(self) -> str:
        """The last lines the server wrote to stderr, for a failure message."""
        with self._changed:
            return "".join(self._tail)

    def wait_for_log(self, matches: Callable[[LogLine], bool], timeout: float = 30) -> LogLine:
        """The first log line `matches` accepts, waiting up to `timeout` s for the server to write it."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((line for line in self.log_lines if matches(line)), None) or self._ended, timeout)
        if not isinstance(found, dict):
            raise AssertionError(f"no such log line within {timeout} s; log: {self.log_lines[-20:]}")
        return found

    def await_serving(self, timeout: float) -> None:
        """Return once the server logged `serving` and accepts connections on its ports."""
        with self._changed:
            self._changed.wait_for(lambda: self.serving or self._ended, timeout)
            serving = self.serving
        if not serving:
            self.kill()
            why = f"exited {self.process.returncode}" if self._ended else f"did not serve within {timeout:.0f} s"
            raise ServerDidNotStart(f"risklist-server {why}; its output ended:\n{self.output()[-4000:]}")
        ports = [self.port, self.admin_port] + ([] if self.metrics_port is None else [self.metrics_port])
        for port in ports:  # every worker reported ready before `serving`; this only confirms it
            with socket.create_connection(("127.0.0.1", port), timeout=10):
                pass

    def terminate(self, timeout: float = 20, sig: int = signal.SIGTERM) -> int:
        """Send `sig` (SIGTERM) and return the exit code once the whole log is read.

        Still running `timeout` s later, the whole process group is killed and ServerDidNotStop raised.
        """
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerDidNotStop(f"risklist-server did not stop within {timeout} s of signal {sig}") from None
        self._drain.join(timeout=timeout)
        return code

    def kill(self) -> None:
        """SIGKILL the server and its workers (never leave one behind), then reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._drain.join(timeout=10)

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr:
            for raw in self.process.stderr:
                text = raw.decode("utf-8", "replace")
                entry = _parse(text)
                with self._changed:
                    self._tail.append(text)
                    if entry is not None:
                        if self._keep_log:
                            self.log_lines.append(entry)
                        if not self.serving and entry.get("event") == "serving":
                            self.serving = entry
                    self._changed.notify_all()
        self.process.wait()
        with self._changed:
            self._ended = True
            self._changed.notify_all()


def _parse(line: str) -> LogLine | None:
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def launch(db: Path, secret_file: Path, arguments: Sequence[str] = (), *, startup_timeout: float = 600,
           keep_log: bool = True, init: bool = True) -> LaunchedServer:
    """Start `risklist-server --db DB --secret-file FILE` on free loopback ports; return once it serves.

    With `init` and no `db` yet, an empty store is created first, as an operator runs
    `risklist-admin init-store` (the server never creates one); a secret file that cannot be read is
    left for the server to refuse.

    Listening, admin (and, if `arguments` asks for it, metrics) ports are 127.0.0.1:0 unless `arguments`
    names them; the log is JSON on stderr. The server runs in a session of its own, so a kill reaches
    its workers too. Exit or silence for `startup_timeout` s before `serving`: ServerDidNotStart.
    """
    if init and not db.exists():
        _init_store(db, secret_file)
    command = [str(SERVER), "--db", str(db), "--secret-file", str(secret_file)]
    if "--listen" not in arguments:
        command += ["--listen", "127.0.0.1:0"]
    if "--admin-listen" not in arguments:
        command += ["--admin-listen", "127.0.0.1:0"]
    command += ["--log-format", "json", *arguments]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    server = LaunchedServer(process, keep_log=keep_log)
    try:
        server.await_serving(startup_timeout)
    except BaseException:
        server.kill()
        raise
    return server



def _init_store(db: Path, secret_file: Path) -> None:
    from risklist_kernel.errors import RiskListError
    from risklist_kernel.secret import load_secret
    from risklist_server.store.risk_store import init_store

    try:
        secret = load_secret(secret_file)
    except RiskListError:
        return
    init_store(db, secret.fingerprint)
