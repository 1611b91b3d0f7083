"""`risklist-admin policy` as a real subprocess, without a cluster: what it refuses before it connects, and one
line when no NATS server answers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.running_server import BIN
from tools.loopback_ports import free_ports

GOOD = '[default]\naction = "REVIEW"\nreason_code = "REVIEW_LISTED"\n'


def _admin(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "risklist-admin"), "policy", *arguments], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_a_bad_file_is_refused_with_its_line_before_any_connection(tmp_path: Path) -> None:
    """A file the server would refuse, or none, is exit 1 with the server's message, never reaching the cluster."""
    path = tmp_path / "policy.toml"
    path.write_text(GOOD.replace("REVIEW_LISTED", "review listed"))
    nowhere = f"nats://127.0.0.1:{free_ports(1)[0]}"
    refused = _admin("push", "--cluster", nowhere, "--file", str(path))
    assert refused.returncode == 1
    assert refused.stderr == (f"risklist-admin policy push: error: policy file {path}, line 3: [default]: reason_code "
                              "'review listed' must be an upper-case token such as BLOCK_MULTI_SOURCE (A-Z, 0-9, _; "
                              "starting with a letter; at most 64 characters)\n")
    missing = _admin("push", "--cluster", nowhere, "--file", str(tmp_path / "absent.toml"))
    assert missing.returncode == 1 and "the policy file does not exist" in missing.stderr


def test_no_cluster_to_reach_is_one_line_exit_1(tmp_path: Path) -> None:
    """A malformed --cluster, or servers that do not answer, is one line saying what to check; no action is usage."""
    path = tmp_path / "policy.toml"
    path.write_text(GOOD)
    malformed = _admin("push", "--cluster", "127.0.0.1:4222", "--file", str(path))
    assert malformed.returncode == 1 and "is not a NATS address: write nats://HOST:PORT" in malformed.stderr
    unanswered = _admin("show", "--cluster", f"nats://127.0.0.1:{free_ports(1)[0]}", "--timeout", "3")
    assert unanswered.returncode == 1 and "answered within" in unanswered.stderr
    assert unanswered.stderr.count("\n") == 1 and unanswered.stdout == ""
    assert _admin().returncode == 2
