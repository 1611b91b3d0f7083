"""Scratch directories a killed server leaves are cleaned at the next start; what the server writes is owner-only."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from risklist_server.core.errors import ServerDidNotStart
from risklist_server.process.launch import launch
from tests.support.running_server import start_server

PREFIXES = ("risklist-run-", "risklist-replicas-", "risklist-metrics-")
"""The scratch directories a server makes (docs/operations.md); the server-level tests below use only this, so
they run against any version of the server."""

HOLD_A_RUN_DIR = (
    "import sys; from risklist_server.process.run_dirs import make_run_dir; "
    "print(make_run_dir('risklist-run-'), flush=True); sys.stdin.read()"
)


def _run_dirs(directory: Path) -> set[str]:
    return {entry.name for entry in directory.iterdir() if entry.name.startswith(PREFIXES)}


def test_only_directories_whose_owner_is_gone_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run directory of a process killed with -9 goes; one a live process holds, and unlocked ones, stay."""
    from risklist_server.process.run_dirs import remove_abandoned_run_dirs

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_RUN_DIR], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert holder.stdout is not None
    held = holder.stdout.readline().strip()
    killed = subprocess.Popen([sys.executable, "-c", HOLD_A_RUN_DIR], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert killed.stdout is not None
    abandoned = killed.stdout.readline().strip()
    killed.kill()
    killed.wait(timeout=30)
    unlocked = tmp_path / "risklist-replicas-without-lock"
    unlocked.mkdir()
    try:
        assert remove_abandoned_run_dirs(str(tmp_path)) == [abandoned]
        assert Path(held).is_dir() and unlocked.is_dir() and not Path(abandoned).exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
        for stream in (holder.stdin, holder.stdout, killed.stdin, killed.stdout):
            if stream is not None:
                stream.close()


def test_this_process_keeps_its_own_run_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory made by this process is never taken for abandoned while the process runs. (In a folder of
    its own: the shared temporary folder may hold another killed server's directories, which are removed.)"""
    import tempfile

    from risklist_server.process.run_dirs import PREFIXES as SERVER_PREFIXES
    from risklist_server.process.run_dirs import make_run_dir, remove_abandoned_run_dirs

    assert set(SERVER_PREFIXES) == set(PREFIXES)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    mine = make_run_dir("risklist-metrics-")
    try:
        assert os.path.dirname(mine) == str(tmp_path)
        assert remove_abandoned_run_dirs(str(tmp_path)) == []
        assert stat.S_IMODE(os.stat(mine).st_mode) == 0o700
    finally:
        import shutil

        shutil.rmtree(mine)


def test_a_server_killed_with_minus_9_leaves_nothing_after_the_next_start(
    tmp_path: Path, secret_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replicas, writer-link and metrics directories of a killed server are removed when the next one starts."""
    scratch = Path(tempfile.mkdtemp(prefix="rl-scratch-"))  # short: the writer link's socket path lives here
    try:
        monkeypatch.setenv("TMPDIR", str(scratch))
        flags = ("--workers", "2", "--metrics-listen", "127.0.0.1:0")
        first = start_server(tmp_path / "db", secret_file, *flags)
        left = _run_dirs(scratch)
        assert {name.rsplit("-", 1)[0] + "-" for name in left} == set(PREFIXES)
        os.killpg(first.pid, signal.SIGKILL)
        first.process.wait(timeout=30)
        second = start_server(tmp_path / "db", secret_file, *flags)
        try:
            now = _run_dirs(scratch)
            assert not now & left and len(now) == len(PREFIXES)
        finally:
            assert second.terminate() == 0
        assert _run_dirs(scratch) == set()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_a_temporary_folder_too_long_for_the_writer_links_socket_is_one_clear_error(
    tmp_path: Path, secret_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unix socket path holds at most 107 bytes: with a deeper $TMPDIR, several workers cannot link to the writer.
    The server says so and what to do (exit 1, no traceback) and leaves no scratch directory behind."""
    scratch = tmp_path / ("t" * 100)
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    with pytest.raises(ServerDidNotStart) as failed:
        launch(tmp_path / "db", secret_file, ("--insecure-dev", "--workers", "2"), startup_timeout=60)
    output = str(failed.value)
    assert "exited 1" in output and "Traceback" not in output
    assert "TMPDIR" in output and "107" in output
    assert _run_dirs(scratch) == set()


def test_what_the_loader_and_the_server_write_is_readable_by_their_owner_only(
    tmp_path: Path, secret_file: Path
) -> None:
    """The store, its front file and the audit trail are created 0700 / 0600, whatever the caller's umask."""
    from tests.loader.loader_feeds import generated_rows, run_loader, write_csv

    db = tmp_path / "db"
    feed = write_csv(tmp_path / "feed.csv", generated_rows(5))
    loaded = run_loader(tmp_path, feed, "--source", "bank-a", "--db", db, "--secret-file", secret_file)
    assert loaded.returncode == 0, loaded.stderr
    running = start_server(db, secret_file)
    assert running.terminate() == 0
    written = [db, *db.rglob("*"), tmp_path / "db-audit", *(tmp_path / "db-audit").rglob("*")]
    assert len(written) > 5
    assert [(str(path), oct(stat.S_IMODE(path.stat().st_mode))) for path in written
            if stat.S_IMODE(path.stat().st_mode) & 0o077] == []
