"""The launcher tests and benchmarks share: a serving server with its ports, or why it never served."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from risklist_server.core.errors import ServerDidNotStart
from risklist_server.process.launch import launch
from tests.support.running_server import kill_leftover_servers, start_server
from tests.support.waiting import wait_until


def test_a_launched_server_reports_its_ports_and_stops_cleanly(tmp_path: Path, secret_file: Path) -> None:
    """Once launch returns, the ports are known and answer, and terminate returns the exit code 0."""
    server = launch(tmp_path / "db", secret_file, ("--insecure-dev", "--workers", "1",
                                                   "--metrics-listen", "127.0.0.1:0"))
    try:
        assert server.serving["event"] == "serving" and server.address == f"127.0.0.1:{server.port}"
        assert server.admin_port != server.port and server.metrics_port is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10) as response:
            assert response.status == 200
        assert server.pid == server.process.pid
    finally:
        assert server.terminate() == 0
    assert any(line.get("event") == "serving" for line in server.log_lines)


def test_a_server_that_exits_before_serving_is_reported_with_its_output(tmp_path: Path) -> None:
    """A server that cannot start raises ServerDidNotStart with its exit and the error it printed."""
    missing = tmp_path / "no-such.secret"
    with pytest.raises(ServerDidNotStart) as failed:
        launch(tmp_path / "db", missing, ("--insecure-dev",), startup_timeout=60)
    assert "exited" in str(failed.value) and str(missing) in str(failed.value)


def test_a_server_a_test_left_running_is_killed_with_its_workers(tmp_path: Path, secret_file: Path) -> None:
    """What tests/conftest.py does at the end of the suite: servers start_server started and nobody stopped are
    killed, their whole process group (workers included), so a failed test leaves nothing running."""
    server = start_server(tmp_path / "db", secret_file, "--workers", "2")
    left = [server]
    assert kill_leftover_servers(left) == [server.pid]
    assert server.process.poll() is not None and left == []

    def group_gone() -> bool:  # its workers, killed too, are gone once their new parent has reaped them
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(group_gone, timeout=10)
