"""A real risklist-server subprocess on free loopback ports, its JSON log drained in the background."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class MutualTls:
    """The files of a mutual-TLS server: its certificate and key, the client CA, the partners file."""

    cert: Path
    key: Path
    client_ca: Path
    partners: Path

    def flags(self) -> tuple[str, ...]:
        return ("--tls-cert", str(self.cert), "--tls-key", str(self.key), "--client-ca", str(self.client_ca),
                "--partners", str(self.partners))


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    admin_port: int
    log_lines: list[dict[str, object]]
    serving: dict[str, object] = field(default_factory=dict)
    """The supervisor's "serving" log line: ports, worker pids."""

    def __post_init__(self) -> None:
        self._logged = threading.Condition()
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def wait_for_log(self, matches: Callable[[dict[str, object]], bool], timeout: float = 30) -> dict[str, object]:
        """The first log line `matches` accepts, waiting for the server to write it."""
        with self._logged:
            found = self._logged.wait_for(lambda: next((e for e in self.log_lines if matches(e)), None), timeout)
        if found is None:
            raise AssertionError(f"no such log line within {timeout} s; log: {self.log_lines[-20:]}")
        return found

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def admin_address(self) -> str:
        return f"127.0.0.1:{self.admin_port}"

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.startswith("{"):
                with self._logged:
                    self.log_lines.append(json.loads(line))
                    self._logged.notify_all()

    def terminate(self, timeout: float = 20, sig: int = signal.SIGTERM) -> int:
        """Send `sig` (SIGTERM), then wait; return the exit code once the whole log is read."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()  # never leave a server behind
            self.process.wait()
            raise AssertionError(f"risklist-server did not stop within {timeout} s of signal {sig}") from None
        self._drain.join(timeout=timeout)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


AUTH_FLAGS = ("--insecure-dev", "--tls-cert", "--tls-key", "--client-ca", "--partners")


def start_server(db: Path, secret_file: Path, *extra: str, tls: MutualTls | None = None) -> ServerProcess:
    """Start risklist-server on free loopback ports; return once it logs that it is serving.

    One worker unless `extra` says --workers: a write acknowledged by the admin call is then
    visible to the very next check (with several workers, within the catch-up interval).
    Plaintext (--insecure-dev) unless `tls` gives certificates and a partners file, or
    `extra` has authentication flags of its own.
    """
    workers = () if "--workers" in extra else ("--workers", "1")
    if tls is not None:
        auth: tuple[str, ...] = tls.flags()
    elif any(flag in extra for flag in AUTH_FLAGS):
        auth = ()
    else:
        auth = ("--insecure-dev",)
    process = subprocess.Popen(
        [str(BIN / "risklist-server"), "--db", str(db), "--secret-file", str(secret_file),
         "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-format", "json", *workers, *auth,
         *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    lines: list[dict[str, object]] = []
    try:
        for line in process.stderr:
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            lines.append(entry)
            if entry.get("event") == "serving":
                return ServerProcess(process, int(str(entry["port"])), int(str(entry["admin_port"])), lines, entry)
    except BaseException:
        process.kill()  # a failed start must not leave a server behind
        process.wait()
        raise
    process.wait(timeout=10)
    process.stderr.close()
    raise AssertionError(f"risklist-server exited {process.returncode} before serving: {lines}")
