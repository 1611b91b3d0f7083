"""`make cluster`, as a newcomer runs it: three nats-servers and three nodes, the seeds loaded through one node,
and the printed query answering the same on every node (CLUSTER_FLAGS=--check stops once it compared)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO


def test_make_cluster_answers_the_same_on_every_node(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    venv = Path(sys.executable).parent.parent
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), f"VENV={venv}", f"DEMO={demo}", "CLUSTER_PORT=0",
         "CLUSTER_FLAGS=--check", "cluster"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    answers = [line for line in result.stdout.splitlines() if line.startswith("LISTED")]
    assert len(answers) == 3 and len(set(answers)) == 1
