"""Admin.Backup on a running server: checks go on during it, the backup restores to the same answers, and a
writer killed -9 mid-backup leaves nothing verify accepts."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret
from risklist_server.cli.client_tls import open_channel
from risklist_server.store.pause_point import PAUSE_AT_ENV, PAUSE_FILE_ENV
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.audit_cli import audit_jsonl
from tests.support.running_server import BIN, start_server
from tests.support.waiting import wait_until

ADMIN = str(BIN / "risklist-admin")
LATER = "+8613700137000"


def _admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ADMIN, *args], capture_output=True, text=True, timeout=120, check=False)


def _listed(address: str, phone: str) -> bool:
    with open_channel(address, None) as channel:
        response = pb_grpc.RiskListStub(channel).Check(
            pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=phone)), timeout=10)
    return bool(response.verdict.listed)


def test_online_backup_while_serving_restores_the_store_as_it_was_then(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """Checks answered throughout the backup, which is audited; the restored store lists what was listed then, not
    what came after."""
    server = start_server(tmp_path / "db", secret_file, "--audit-dir", str(tmp_path / "audit"))
    answers: list[bool] = []
    stop = threading.Event()

    def check_throughout() -> None:
        with open_channel(server.address, None) as channel:
            stub = pb_grpc.RiskListStub(channel)
            while not stop.is_set():
                response = stub.Check(pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)),
                                      timeout=10)
                answers.append(response.verdict.listed)

    try:
        version = ingest_phone(server.admin_address, secret)
        checker = threading.Thread(target=check_throughout)
        checker.start()
        try:
            wait_until(lambda: len(answers) > 5, timeout=30)
            backup = _admin("backup", "--admin", server.admin_address, "--insecure", "--to", str(tmp_path / "b"))
            during = len(answers)
            wait_until(lambda: len(answers) > during + 5, timeout=30, message="checks stopped after the backup")
        finally:
            stop.set()
            checker.join(timeout=30)
        assert backup.returncode == 0, backup.stderr
        assert f"version {version}," in backup.stdout and all(answers)
        ingest_phone(server.admin_address, secret, LATER)
    finally:
        server.terminate()
    backups = [record for record in audit_jsonl(tmp_path / "audit", "--partner", "dev")
               if record["method"] == "Backup"]
    assert [(record["partner"], record["status"]) for record in backups] == [("dev", "OK")], backups
    verify = _admin("verify", str(tmp_path / "b"))
    assert verify.returncode == 0, verify.stderr
    restore = _admin("restore", "--from", str(tmp_path / "b"), "--db", str(tmp_path / "restored"),
                     "--secret-file", str(secret_file))
    assert restore.returncode == 0, restore.stderr
    restored = start_server(tmp_path / "restored", secret_file)
    try:
        assert _listed(restored.address, PHONE) and not _listed(restored.address, LATER)
    finally:
        restored.terminate()


def test_online_backup_refuses_a_relative_or_occupied_directory(tmp_path: Path, secret_file: Path) -> None:
    """A relative --to is a usage error (exit 2); an occupied directory is refused by the server (exit 1)."""
    server = start_server(tmp_path / "db", secret_file)
    try:
        relative = _admin("backup", "--admin", server.admin_address, "--insecure", "--to", "b")
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "x").write_text("x")
        occupied = _admin("backup", "--admin", server.admin_address, "--insecure", "--to", str(tmp_path / "full"))
    finally:
        server.terminate()
    assert relative.returncode == 2 and "absolute path" in relative.stderr
    assert occupied.returncode == 1 and "FAILED_PRECONDITION" in occupied.stderr and "not empty" in occupied.stderr


@pytest.mark.parametrize("step", ["backup-checksums", "backup-marker"])
def test_writer_killed_during_an_online_backup_leaves_nothing_verify_accepts(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """kill -9 of the whole server while its writer is at a backup step: verify and restore refuse the directory."""
    marker = tmp_path / "paused"
    monkeypatch.setenv(PAUSE_AT_ENV, step)
    monkeypatch.setenv(PAUSE_FILE_ENV, str(marker))
    server = start_server(tmp_path / "db", secret_file)
    ingest_phone(server.admin_address, secret)
    backup = subprocess.Popen([ADMIN, "backup", "--admin", server.admin_address, "--insecure",
                               "--to", str(tmp_path / "b")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(marker.exists, timeout=60, message=f"the writer never reached {step}")
    finally:
        server.kill()
    _, stderr = backup.communicate(timeout=60)
    assert backup.returncode == 1 and "UNAVAILABLE" in stderr, stderr
    verify = _admin("verify", str(tmp_path / "b"))
    assert verify.returncode == 1 and "not a complete backup" in verify.stderr, verify.stderr
