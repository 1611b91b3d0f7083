"""Running `risklist-admin audit` as an operator would: a subprocess, its output and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

AUDIT_COMMAND = [str(Path(sys.executable).parent / "risklist-admin"), "audit"]
"""`risklist-admin audit`, as an operator runs it."""


def run_audit(directory: Path | Sequence[Path], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the audit command over `directory` (or several, a --dir each); never raises on a non-zero exit."""
    directories = [directory] if isinstance(directory, Path) else list(directory)
    flags = [item for each in directories for item in ("--dir", str(each))]
    return subprocess.run([*AUDIT_COMMAND, *flags, *args], capture_output=True, text=True, timeout=60, check=False)


def audit_jsonl(directory: Path | Sequence[Path], *args: str) -> list[dict[str, object]]:
    """The matching records as dicts (`--format jsonl`); asserts the command succeeded."""
    done = run_audit(directory, *args, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]
