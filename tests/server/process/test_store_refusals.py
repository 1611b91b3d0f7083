"""risklist-server never creates a store, refuses a damaged or rolled-back one, and serves a restore only when told."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from risklist_kernel.secret import NetworkSecret
from risklist_server.store.reads import FRONT_FILE
from risklist_server.store.rocks import COLUMN_FAMILIES, META_CF, SECRET_FINGERPRINT_KEY
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.running_server import BIN, start_server


def _serve(db: Path, secret_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run risklist-server to its exit (a refusal), capturing its output."""
    return subprocess.run([str(BIN / "risklist-server"), "--db", str(db), "--secret-file", str(secret_file),
                           "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--workers", "1",
                           "--insecure-dev", *extra], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)


def _is_listed(address: str) -> bool:
    checked = subprocess.run([str(BIN / "risklist-check"), "--insecure", "--server", address, "--type", "phone",
                              PHONE, "--json"], capture_output=True, text=True, timeout=60, check=False)
    return bool(json.loads(checked.stdout)["listed"])


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    first = next(line for line in result.stderr.splitlines() if "error:" in line)
    assert all(word in first for word in words), result.stderr


def test_no_store_is_refused_and_not_created(tmp_path: Path, secret_file: Path) -> None:
    """A --db that does not exist is refused in one line saying how to build one; nothing is created."""
    db = tmp_path / "db"
    _refused(_serve(db, secret_file), str(db), "init-store")
    assert not db.exists()


@pytest.mark.parametrize("lost", ["CURRENT", "MANIFEST-*", "OPTIONS-*"])
def test_a_store_missing_a_rocksdb_file_is_refused(tmp_path: Path, secret_file: Path, lost: str) -> None:
    """A store that lost CURRENT, its MANIFEST or OPTIONS is refused, and stays refused: no empty list is served."""
    db = tmp_path / "db"
    server = start_server(db, secret_file)
    server.terminate()
    for path in db.glob(lost):
        path.unlink()
    for _ in range(2):  # today the first failed start made an empty database that the second one served
        _refused(_serve(db, secret_file), str(db), "not a complete risklist store")


def test_a_store_without_its_secret_marker_is_refused(tmp_path: Path, secret_file: Path) -> None:
    """A RocksDB directory risklist did not make (no secret marker) is refused, not adopted."""
    from rocksdict import Options, Rdict

    db = tmp_path / "db"
    start_server(db, secret_file).terminate()
    meta = Rdict(str(db), options=Options(raw_mode=True),
                 column_families={name: Options(raw_mode=True) for name in COLUMN_FAMILIES})
    meta.get_column_family(META_CF).delete(SECRET_FINGERPRINT_KEY)
    meta.close()
    _refused(_serve(db, secret_file), str(db), "no secret marker")


def test_a_store_behind_its_front_is_refused_until_a_restore_is_accepted(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """Store files older than the front file (a rolled-back or damaged store) are refused; a deliberate
    restore is served with --accept-restored-store once, then without the flag."""
    db, backup = tmp_path / "db", tmp_path / "backup"
    server = start_server(db, secret_file)
    server.terminate()
    shutil.copytree(db, backup)  # list version 0
    server = start_server(db, secret_file)
    ingest_phone(server.admin_address, secret)
    server.terminate()  # the front now covers list version 1
    front = (db / FRONT_FILE).read_bytes()
    shutil.rmtree(db)
    shutil.copytree(backup, db)
    (db / FRONT_FILE).write_bytes(front)

    _refused(_serve(db, secret_file), str(db), "behind", "--accept-restored-store")
    restored = start_server(db, secret_file, "--accept-restored-store")
    try:
        assert not _is_listed(restored.address)
        assert any(line["event"] == "restored_store_accepted" for line in restored.log_lines)
    finally:
        restored.terminate()
    again = start_server(db, secret_file)
    again.terminate()
