"""risklist-admin backup, verify and restore as subprocesses: exit codes, a held store, kill -9 at each step."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret
from risklist_server.cli.client_tls import open_channel
from risklist_server.store.pause_point import PAUSE_AT_ENV, PAUSE_FILE_ENV
from risklist_server.store.restore import VERSION_GAP
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.running_server import BIN, start_server
from tests.support.waiting import wait_until

ADMIN = str(BIN / "risklist-admin")


def _admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ADMIN, *args], capture_output=True, text=True, timeout=120, check=False)


def _answers(address: str, version_gap: int = 0) -> tuple[pb.CheckResponse, pb.GetEntryResponse]:
    """Check and GetEntry for the ingested phone, without their request ids; the list versions less
    `version_gap` (a restored store's versions go on VERSION_GAP after the backup's)."""
    subject = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)
    with open_channel(address, None) as channel:
        stub = pb_grpc.RiskListStub(channel)
        check = stub.Check(pb.CheckRequest(subject=subject), timeout=10)
        entry = stub.GetEntry(pb.GetEntryRequest(subject=subject), timeout=10)
    check.ClearField("request_id")
    check.ClearField("outcome_token")  # a token names its answer's request id
    entry.ClearField("request_id")
    check.list_version -= version_gap
    entry.list_version -= version_gap
    return check, entry


@pytest.fixture()
def served_store(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> tuple[Path, tuple[object, object]]:
    """A store a server listed a phone in, then stopped; with the server's answers about that phone."""
    server = start_server(tmp_path / "db", secret_file)
    try:
        ingest_phone(server.admin_address, secret)
        answers = _answers(server.address)
    finally:
        server.terminate()
    return tmp_path / "db", answers


def test_backup_verify_restore_and_the_restored_store_serves_the_same_answers(
    served_store: tuple[Path, tuple[object, object]], tmp_path: Path, secret_file: Path
) -> None:
    """Check and GetEntry answered by a server on the restored store equal those before the backup."""
    db, before = served_store
    backup = _admin("backup", "--db", str(db), "--to", str(tmp_path / "b"), "--secret-file", str(secret_file))
    assert backup.returncode == 0, backup.stderr
    assert "backup complete" in backup.stdout
    verify = _admin("verify", str(tmp_path / "b"))
    assert verify.returncode == 0 and "complete and intact" in verify.stdout, verify.stderr
    restore = _admin("restore", "--from", str(tmp_path / "b"), "--db", str(tmp_path / "restored"),
                     "--secret-file", str(secret_file))
    assert restore.returncode == 0, restore.stderr
    server = start_server(tmp_path / "restored", secret_file)
    try:
        assert _answers(server.address, VERSION_GAP) == before
    finally:
        server.terminate()


def test_backup_refuses_a_store_a_server_holds(tmp_path: Path, secret_file: Path) -> None:
    """A running server's store is locked: backup --db exits 1 saying so and writes no backup."""
    assert _admin("init-store", "--db", str(tmp_path / "db"), "--secret-file", str(secret_file)).returncode == 0
    server = start_server(tmp_path / "db", secret_file)
    try:
        refused = _admin("backup", "--db", str(tmp_path / "db"), "--to", str(tmp_path / "b"),
                         "--secret-file", str(secret_file))
    finally:
        server.terminate()
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "held by another process" in refused.stderr and "--admin ADDR" in refused.stderr, refused.stderr
    assert not (tmp_path / "b" / "COMPLETE").exists()


def _killed_at(step: str, tmp_path: Path, *args: str) -> None:
    """Run risklist-admin ARGS paused at `step`, wait until it is there, kill -9 it."""
    marker = tmp_path / f"paused-{step}"
    env = {**os.environ, PAUSE_AT_ENV: step, PAUSE_FILE_ENV: str(marker)}
    process = subprocess.Popen([ADMIN, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(marker.exists, timeout=60, message=f"risklist-admin never reached {step}")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.mark.parametrize("step", ["backup-checksums", "backup-marker"])
def test_backup_killed_at_any_step_is_refused_by_verify_and_restore(
    served_store: tuple[Path, tuple[object, object]], tmp_path: Path, secret_file: Path, step: str
) -> None:
    """kill -9 after the checkpoint or after the manifest: verify and restore exit 1, nothing restored."""
    db, _ = served_store
    _killed_at(step, tmp_path, "backup", "--db", str(db), "--to", str(tmp_path / "b"),
               "--secret-file", str(secret_file))
    assert any((tmp_path / "b" / "store").iterdir())
    verify = _admin("verify", str(tmp_path / "b"))
    assert verify.returncode == 1 and "not a complete backup" in verify.stderr, verify.stderr
    restore = _admin("restore", "--from", str(tmp_path / "b"), "--db", str(tmp_path / "restored"),
                     "--secret-file", str(secret_file))
    assert restore.returncode == 1 and "not a complete backup" in restore.stderr
    assert not (tmp_path / "restored").exists()


@pytest.mark.parametrize("step", ["restore-copy", "restore-rename"])
def test_restore_killed_at_any_step_leaves_no_store_and_the_next_restore_succeeds(
    served_store: tuple[Path, tuple[object, object]], tmp_path: Path, secret_file: Path, step: str
) -> None:
    """kill -9 mid-copy or before the rename: the store path is still absent, the server refuses it clearly, the
    loader and init-store refuse to create an empty store in its place, and a new restore completes."""
    db, before = served_store
    assert _admin("backup", "--db", str(db), "--to", str(tmp_path / "b"),
                  "--secret-file", str(secret_file)).returncode == 0
    target = tmp_path / "restored"
    _killed_at(step, tmp_path, "restore", "--from", str(tmp_path / "b"), "--db", str(target),
               "--secret-file", str(secret_file))
    assert not target.exists() and (tmp_path / ".restored.restoring").is_dir()
    refused = subprocess.run([str(BIN / "risklist-server"), "--db", str(target), "--secret-file", str(secret_file),
                              "--insecure-dev", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                             capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode != 0 and f"there is no store at {target}" in refused.stderr, refused.stderr
    feed = tmp_path / "feed.csv"
    feed.write_text("action,entity_type,identifier,category,level,reported_at\n"
                    "add,phone,+8613800138000,money_mule,high,2026-01-02T00:00:00Z\n")
    for creating in ([str(BIN / "risklist-load"), str(feed), "--source", "bank-a", "--db", str(target),
                      "--secret-file", str(secret_file)],
                     [str(BIN / "risklist-admin"), "init-store", "--db", str(target),
                      "--secret-file", str(secret_file)]):
        created = subprocess.run(creating, capture_output=True, text=True, timeout=60, check=False)
        assert created.returncode == 1 and "a restore into" in created.stderr, created.stderr
        assert "Traceback" not in created.stderr and not target.exists(), "an empty store would pass for the restore"
    again = _admin("restore", "--from", str(tmp_path / "b"), "--db", str(target), "--secret-file", str(secret_file))
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / ".restored.restoring").exists()
    server = start_server(target, secret_file)
    try:
        assert _answers(server.address, VERSION_GAP) == before
    finally:
        server.terminate()


def test_verify_of_a_missing_directory_exits_1() -> None:
    """verify names what is wrong and exits 1, without a traceback."""
    result = _admin("verify", "/nonexistent/backup")
    assert result.returncode == 1 and "no backup directory" in result.stderr and "Traceback" not in result.stderr

