"""risklist-load --server against a real risklist-server subprocess: lookups see loads at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from loader_feeds import generated_rows, run_loader, write_csv
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

SERVER = Path(sys.executable).parent / "risklist-server"
PHONE = "+8613800138000"


@dataclass
class RunningServer:
    """A risklist-server subprocess on free loopback ports, its log drained in the background."""

    process: subprocess.Popen[str]
    port: int
    admin_port: int
    log: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.startswith("{"):
                self.log.append(json.loads(line))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._drain.join(timeout=30)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


@pytest.fixture()
def server(tmp_path: Path, secret_file: Path) -> Iterator[RunningServer]:
    process = subprocess.Popen(
        [str(SERVER), "--db", str(tmp_path / "db"), "--secret-file", str(secret_file), "--listen", "127.0.0.1:0",
         "--admin-listen", "127.0.0.1:0", "--log-format", "json"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    for line in process.stderr:
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event") == "serving":
            running = RunningServer(process, int(entry["port"]), int(entry["admin_port"]))
            break
    else:
        process.wait(timeout=10)
        process.stderr.close()
        raise AssertionError(f"risklist-server exited {process.returncode} before serving")
    yield running
    assert running.stop() == 0


def check(server: RunningServer, entity_type: int, value: str) -> pb.CheckResponse:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        request = pb.CheckRequest(subject=pb.Subject(type=entity_type, value=value))
        response: pb.CheckResponse = pb_grpc.RiskListStub(channel).Check(request, timeout=10)
        return response


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in result.stderr
    [done] = [json.loads(line) for line in result.stderr.splitlines() if '"event": "load_done"' in line]
    return done


def test_loads_through_the_server_are_seen_without_restart(
    tmp_path: Path, secret_file: Path, server: RunningServer
) -> None:
    """Delta and snapshot loads streamed to Admin.Ingest change verdicts at once; re-runs are no-ops."""
    admin = f"127.0.0.1:{server.admin_port}"
    phone_row = {"action": "add", "entity_type": "phone", "identifier": PHONE, "category": "telecom_fraud",
                 "level": "critical", "reported_at": "2026-03-01T08:00:00+08:00"}
    rows = generated_rows(30) + [phone_row]
    delta = write_csv(tmp_path / "delta.csv", rows)
    args = ("--source", "bank-a", "--server", admin, "--secret-file", secret_file, "--batch-size", "7")
    first = run_loader(tmp_path, delta, *args)
    assert first.returncode == 0, first.stderr
    assert summary(first)["added"] == 31
    verdict = check(server, pb.ENTITY_TYPE_PHONE, "138 0013 8000")
    assert verdict.verdict.listed and verdict.verdict.level == pb.RISK_LEVEL_CRITICAL
    assert verdict.list_version == summary(first)["list_version"]

    again = summary(run_loader(tmp_path, delta, *args))
    assert (again["added"], again["unchanged"]) == (0, 31)
    assert again["list_version"] == summary(first)["list_version"]

    snapshot = write_csv(tmp_path / "snapshot.csv", generated_rows(30))
    swept = run_loader(tmp_path, snapshot, *args, "--mode", "snapshot")
    assert swept.returncode == 0, swept.stderr
    assert summary(swept)["swept"] == 1
    assert not check(server, pb.ENTITY_TYPE_PHONE, PHONE).verdict.listed


def test_db_load_into_a_served_store_is_refused(tmp_path: Path, secret_file: Path, server: RunningServer) -> None:
    """While the server holds the store, --db into it exits 1 and points at --server."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(3))
    result = run_loader(tmp_path, feed, "--source", "bank-a", "--db", tmp_path / "db", "--secret-file", secret_file)
    assert result.returncode == 1
    assert "held by another process" in result.stderr and "--server ADDR" in result.stderr
