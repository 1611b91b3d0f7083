"""A real risklist-server subprocess on free loopback ports, its JSON log drained in the background."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    admin_port: int
    log_lines: list[dict[str, object]]

    def __post_init__(self) -> None:
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

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
                self.log_lines.append(json.loads(line))

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


def start_server(db: Path, secret_file: Path, *extra: str) -> ServerProcess:
    """Start risklist-server on free loopback ports; return once it logs that it is serving."""
    process = subprocess.Popen(
        [str(BIN / "risklist-server"), "--db", str(db), "--secret-file", str(secret_file),
         "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-format", "json", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    lines: list[dict[str, object]] = []
    for line in process.stderr:
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        lines.append(entry)
        if entry.get("event") == "serving":
            return ServerProcess(process, int(str(entry["port"])), int(str(entry["admin_port"])), lines)
    process.wait(timeout=10)
    process.stderr.close()
    raise AssertionError(f"risklist-server exited {process.returncode} before serving: {lines}")
