"""On a terminal the loader shows a progress bar and console logs; --quiet drops the bar."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path

import pytest
from loader_feeds import generated_rows, loader_command, loader_env, write_csv


def run_on_terminal(tmp_path: Path, *args: object) -> tuple[int, str, str]:
    """Run the loader with stderr on a 100-column pseudo-terminal; return code, stdout, terminal text."""
    master, replica = pty.openpty()
    fcntl.ioctl(replica, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(loader_command(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=replica, env=loader_env(tmp_path))
    os.close(replica)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO once the child side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.stdout is not None
    stdout = process.stdout.read().decode()
    process.stdout.close()
    return process.wait(timeout=60), stdout, b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_only_on_a_terminal_and_not_quiet(tmp_path: Path, secret_file: Path, quiet: bool) -> None:
    """Both passes show a bar on a terminal unless --quiet; logs are console lines, not JSON."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(50))
    code, stdout, terminal = run_on_terminal(tmp_path, feed, "--source", "bank-a", "--db", tmp_path / "db",
                                             "--secret-file", secret_file, *(["--quiet"] if quiet else []))
    assert code == 0
    assert "applied (exit 0)" in stdout
    assert "load_started" in terminal and '{"' not in terminal
    assert ("validating:" in terminal and "applying:" in terminal) is not quiet
