"""`pip install ./client` into an empty virtualenv: the SDK, the kernel and the proto package, nothing of the server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

ROOT = REPO


def test_the_sdk_installs_alone_into_an_empty_venv(tmp_path: Path) -> None:
    """A bank installs risklist-client by itself: it imports, reads error details as docs/api.md shows, brings
    risklist-watch, and no server, loader, RocksDB or numpy."""
    source = tmp_path / "src"
    for folder in ("client", "kernel", "proto"):  # a copy: pip builds in the tree it is given
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    str(source / "client")], check=True, timeout=600, stdin=subprocess.DEVNULL)
    code = ("import importlib.util, risklist_client, risklist_kernel.identifiers, risklist_kernel.bloom; "
            "from risklist.v1 import risklist_pb2; "
            "from grpc_status import rpc_status; from google.rpc import error_details_pb2; "
            "print(sorted(m for m in ('rocksdict', 'numpy', 'risklist_server', 'risklist_loader') "
            "if importlib.util.find_spec(m)))")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    watch = subprocess.run([str(venv / "bin" / "risklist-watch"), "--help"], capture_output=True, text=True,
                           timeout=60, cwd=tmp_path)  # the console script comes with the SDK alone
    assert watch.returncode == 0 and "--customers" in watch.stdout, watch.stderr
