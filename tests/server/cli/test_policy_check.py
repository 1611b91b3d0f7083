"""`python -m risklist_server.cli.policy_check FILE` as a real subprocess: exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "risklist_server.cli.policy_check", *args],
                          capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_policy_check_exit_codes(tmp_path: Path) -> None:
    """A good file exits 0 with its version, a broken one 1 with line and reason (no traceback), no file 2."""
    path = tmp_path / "policy.toml"
    path.write_text('[default]\naction = "REVIEW"\nreason_code = "REVIEW_LISTED"\n')
    good = _check(str(path))
    assert good.returncode == 0 and "good, version" in good.stdout
    path.write_text('[default]\naction = "BLOCK"\nreason_code = "BLOCK_ALL"\n')
    broken = _check(str(path))
    assert broken.returncode == 1 and f"{path}, line 2: [default]: a BLOCK rule" in broken.stderr
    assert "Traceback" not in broken.stderr
    assert _check().returncode == 2
