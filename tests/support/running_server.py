"""The tests' way to start a real risklist-server: one worker, plaintext or mutual TLS, on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from risklist_server.process.launch import LaunchedServer, launch

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


ServerProcess = LaunchedServer
"""A started server (risklist_server.process.launch): address, admin_address, log_lines, wait_for_log, terminate."""


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
    server = launch(db, secret_file, (*workers, *auth, *extra))
    STARTED[:] = [*(started for started in STARTED if started.process.poll() is None), server]  # stopped ones go
    return server


STARTED: list[LaunchedServer] = []
"""Every server start_server started in this test process: tests/conftest.py kills what is left at the end, so
a test that fails before its terminate() leaves no server running after the suite."""


def kill_leftover_servers(servers: list[LaunchedServer] = STARTED) -> list[int]:
    """SIGKILL the process group of every one of `servers` still running, and forget them; return their pids."""
    killed = []
    for server in servers:
        if server.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
            killed.append(server.process.pid)
    servers.clear()
    return killed
