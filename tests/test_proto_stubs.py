"""The committed stubs in proto/ are exactly what grpcio-tools generates from the .proto."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

ROOT = REPO
GENERATED = ["risklist_pb2.py", "risklist_pb2.pyi", "risklist_pb2_grpc.py"]


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    """Regenerating into a temp dir gives byte-identical files (run `make proto` after editing)."""
    shutil.copytree(ROOT / "proto", tmp_path / "proto", ignore=shutil.ignore_patterns("*_pb2*", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-Iproto", "--python_out=proto", "--pyi_out=proto",
         "--grpc_python_out=proto", "proto/risklist/v1/risklist.proto"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    for name in GENERATED:
        fresh = (tmp_path / "proto" / "risklist" / "v1" / name).read_bytes()
        committed = (ROOT / "proto" / "risklist" / "v1" / name).read_bytes()
        assert fresh == committed, f"proto/risklist/v1/{name} is stale: run `make proto` and commit"


def test_the_cluster_logs_own_messages_match_a_fresh_generation(tmp_path: Path) -> None:
    """server/risklist_server/cluster/log_messages_pb2.py(i): what `make proto` generates from its .proto."""
    cluster = Path("risklist_server") / "cluster"
    (tmp_path / cluster).mkdir(parents=True)
    shutil.copy(ROOT / "server" / cluster / "log_messages.proto", tmp_path / cluster)
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}", f"-I{tmp_path}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", str(tmp_path / cluster / "log_messages.proto")],
        check=True, capture_output=True,
    )
    for name in ("log_messages_pb2.py", "log_messages_pb2.pyi"):
        fresh = (tmp_path / cluster / name).read_bytes()
        committed = (ROOT / "server" / cluster / name).read_bytes()
        assert fresh == committed, f"server/{cluster / name} is stale: run `make proto` and commit"
