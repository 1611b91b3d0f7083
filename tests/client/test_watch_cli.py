"""risklist-watch as a subprocess against a real server: alerts as JSON lines, --exec, file changes, kill -9,
bad input and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from risklist_kernel.pause_point import PAUSE_AT_ENV, PAUSE_FILE_ENV
from risklist_kernel.secret import NetworkSecret
from tests.client.conftest import ingest_phones
from tests.support.running_server import BIN, ServerProcess
from tests.support.waiting import wait_until
from tools.loopback_ports import free_ports

WATCH = str(BIN / "risklist-watch")
CUSTOMER = "+8613800138000"
LATER = "+8613900139000"
DROPPED = "+8613700137000"


class Watcher:
    """One risklist-watch process and its files."""

    def __init__(self, directory: Path, server: ServerProcess, secret_file: Path, *extra: str,
                 env: dict[str, str] | None = None) -> None:
        self.out = directory / "alerts.jsonl"
        self.customers = directory / "customers.csv"
        self.stderr = directory / "watch.err"
        command = [WATCH, "--customers", str(self.customers), "--state", str(directory / "state"),
                   "--out", str(self.out), "--server", server.address, "--insecure", "--secret-file",
                   str(secret_file), "--update-interval", "0.1", "--poll", "0.1", *extra]
        with self.stderr.open("a") as errors:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors,
                                            env={**os.environ, **(env or {})})

    def alerts(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture()
def watchers(tmp_path: Path) -> Iterator[list[Watcher]]:
    started: list[Watcher] = []
    yield started
    for watcher in started:
        if watcher.process.poll() is None:
            watcher.process.kill()
            watcher.process.wait(timeout=30)


def _labels(watcher: Watcher) -> list[tuple[str, str]]:
    return [(alert["kind"], alert["label"]) for alert in watcher.alerts()]


def test_alerts_are_appended_as_json_lines_and_passed_to_exec_and_file_changes_apply(
    tmp_path: Path, server: ServerProcess, secret: NetworkSecret, secret_file: Path, watchers: list[Watcher]
) -> None:
    """A listed customer alerts LISTED (a JSON line, and --exec gets it); a customer added to the file is screened
    alone and alerts; one removed from it no longer alerts; SIGTERM exits 0."""
    hook_out = tmp_path / "hook.jsonl"
    hook = tmp_path / "hook.sh"
    hook.write_text(f'#!/bin/sh\n{{ cat; echo; }} >> {hook_out}\necho "$RISKLIST_ALERT_KIND" >> {hook_out}.kinds\n')
    hook.chmod(0o755)
    (tmp_path / "customers.csv").write_text(
        f"Entity_Type,Identifier,Reference,Segment\nphone,{CUSTOMER},cust-1,retail\nphone,{DROPPED},cust-3,sme\n")
    watcher = Watcher(tmp_path, server, secret_file, "--exec", str(hook))
    watchers.append(watcher)
    ingest_phones(server.admin_address, secret, add=[CUSTOMER])
    wait_until(lambda: _labels(watcher) == [("LISTED", "cust-1")], timeout=30, message="the LISTED line")
    line = watcher.alerts()[0]
    assert line["entity_type"] == "phone" and line["listed"] and line["level"] == "high"
    assert line["action"] in ("review", "block") and line["request_id"] and line["list_version"] >= 1
    assert CUSTOMER not in line["subject_key"]
    kinds = tmp_path / "hook.jsonl.kinds"  # the hook writes it last
    wait_until(lambda: kinds.exists() and kinds.read_text() == "LISTED\n", timeout=30, message="the --exec hook")
    assert json.loads(hook_out.read_text().splitlines()[0]) == line
    ingest_phones(server.admin_address, secret, add=[LATER])
    (tmp_path / "customers.csv").write_text(
        f"entity_type,identifier,reference\nphone,{CUSTOMER},cust-1\nphone,{LATER},cust-2\n")
    wait_until(lambda: _labels(watcher) == [("LISTED", "cust-1"), ("LISTED", "cust-2")], timeout=30)
    wait_until(lambda: "added=1 removed=1" in watcher.stderr.read_text(), timeout=30)
    ingest_phones(server.admin_address, secret, add=[DROPPED])
    ingest_phones(server.admin_address, secret, remove=[LATER])
    wait_until(lambda: len(watcher.alerts()) == 3, timeout=30, message="the CLEARED line")
    assert _labels(watcher)[2] == ("CLEARED", "cust-2")
    assert watcher.stop() == 0
    assert CUSTOMER not in watcher.stderr.read_text()


@pytest.mark.parametrize("step", ["watch-before-record", "watch-alert-recorded", "watch-alert-written"])
def test_kill_9_between_an_update_and_its_alert_gives_that_alert_exactly_once(
    tmp_path: Path, server: ServerProcess, secret: NetworkSecret, secret_file: Path, watchers: list[Watcher],
    step: str
) -> None:
    """Killed after the update's match was confirmed (before the alert was recorded, after, or after it was written
    but before it was marked delivered), then restarted: the alert is written exactly once, later ones follow."""
    (tmp_path / "customers.csv").write_text(f"entity_type,identifier\nphone,{CUSTOMER}\nphone,{LATER}\n")
    first = Watcher(tmp_path, server, secret_file, "--once")
    watchers.append(first)
    assert first.process.wait(timeout=60) == 0  # the first screen is done and recorded: nothing listed
    pause = tmp_path / "paused"
    paused = Watcher(tmp_path, server, secret_file, env={PAUSE_AT_ENV: step, PAUSE_FILE_ENV: str(pause)})
    watchers.append(paused)
    ingest_phones(server.admin_address, secret, add=[CUSTOMER])
    wait_until(pause.exists, timeout=30, message=f"risklist-watch reaching {step}")
    os.kill(paused.process.pid, signal.SIGKILL)
    paused.process.wait(timeout=30)
    assert len(paused.alerts()) == (1 if step == "watch-alert-written" else 0)  # written, not marked delivered
    restarted = Watcher(tmp_path, server, secret_file)
    watchers.append(restarted)
    wait_until(lambda: restarted.alerts(), timeout=30, message="the alert after the restart")
    ingest_phones(server.admin_address, secret, add=[LATER])
    wait_until(lambda: len(restarted.alerts()) == 2, timeout=30, message="the next alert")
    assert _labels(restarted) == [("LISTED", CUSTOMER), ("LISTED", LATER)]
    ids = [alert["alert_id"] for alert in restarted.alerts()]
    assert ids == sorted(set(ids))
    assert restarted.stop() == 0


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WATCH, *args], capture_output=True, text=True, timeout=60, check=False)


def test_bad_input_says_what_where_why_and_what_to_do(
    tmp_path: Path, server: ServerProcess, secret_file: Path, secret: NetworkSecret
) -> None:
    """Bad flags, an unusable --server and an unusable file exit 2; bad rows are skipped with their line; another
    secret's state exits 1; a --server list with one node down goes on through the other."""
    common = ["--state", str(tmp_path / "state"), "--out", str(tmp_path / "out.jsonl"), "--server", server.address,
              "--secret-file", str(secret_file)]
    no_auth = _run("--customers", str(tmp_path / "c.csv"), *common)
    assert no_auth.returncode == 2 and "--insecure" in no_auth.stderr
    missing = _run("--customers", str(tmp_path / "absent.csv"), *common, "--insecure", "--once")
    assert missing.returncode == 2 and "absent.csv: cannot open it" in missing.stderr
    (tmp_path / "c.csv").write_text("type,identifier\nphone,+8613800138000\n")
    header = _run("--customers", str(tmp_path / "c.csv"), *common, "--insecure", "--once")
    assert header.returncode == 2 and "lacks column(s) entity_type" in header.stderr
    (tmp_path / "c.csv").write_text("entity_type,identifier\nphone,12\nfax,123\n\nphone,+8613800138000\n")
    rows = _run("--customers", str(tmp_path / "c.csv"), *common, "--insecure", "--once")
    assert rows.returncode == 0, rows.stderr
    assert "c.csv: line 2: invalid phone identifier" in rows.stderr and "c.csv: line 3: entity_type:" in rows.stderr
    assert "watched=1" in rows.stderr
    names = _run("--customers", str(tmp_path / "c.csv"), *common[:5], "node-a.example:1,node-b.example:1",
                 *common[6:], "--insecure", "--once")
    assert names.returncode == 2 and "--server: target address 1 'node-a.example:1'" in names.stderr
    nodes = _run("--customers", str(tmp_path / "c.csv"), *common[:5], f"{server.address},127.0.0.1:{free_ports(1)[0]}",
                 *common[6:], "--insecure", "--once")  # one node answers, the other is down: it fails over
    assert nodes.returncode == 0, nodes.stderr
    unwritable = _run("--customers", str(tmp_path / "c.csv"), *common[:2], "--out", str(tmp_path / "no" / "a.jsonl"),
                      *common[4:], "--insecure", "--once")
    assert unwritable.returncode == 1 and "cannot append to it" in unwritable.stderr
    other = tmp_path / "other.secret"
    other.write_text(NetworkSecret(bytes(range(32))).key.hex() + "\n")
    other.chmod(0o600)
    foreign = _run("--customers", str(tmp_path / "c.csv"), *common[:-1], str(other), "--insecure", "--once")
    assert foreign.returncode == 1 and "was made under network secret" in foreign.stderr


def test_a_failing_exec_hook_is_retried_and_the_alert_written_once(
    tmp_path: Path, server: ServerProcess, secret: NetworkSecret, secret_file: Path, watchers: list[Watcher]
) -> None:
    """--exec exiting non-zero is run again for the same alert (after a back-off); the output line is not repeated."""
    calls = tmp_path / "calls"
    hook = tmp_path / "hook.sh"
    hook.write_text(f'#!/bin/sh\necho "$RISKLIST_ALERT_ID" >> {calls}\n[ "$(wc -l < {calls})" -ge 2 ]\n')
    hook.chmod(0o755)
    (tmp_path / "customers.csv").write_text(f"entity_type,identifier\nphone,{CUSTOMER}\n")
    watcher = Watcher(tmp_path, server, secret_file, "--exec", str(hook))
    watchers.append(watcher)
    ingest_phones(server.admin_address, secret, add=[CUSTOMER])
    wait_until(lambda: calls.exists() and calls.read_text().split() == ["1", "1"], timeout=30,
               message="the hook run twice for alert 1")
    assert _labels(watcher) == [("LISTED", CUSTOMER)]
    assert watcher.stop() == 0
