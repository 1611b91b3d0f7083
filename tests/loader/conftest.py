"""Fixtures for loader tests: a network secret on disk, and a scratch TMPDIR for subprocesses."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from risklist_kernel.secret import NetworkSecret


@pytest.fixture()
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "network.secret"
    path.write_text(secrets.token_hex(32) + "\n")
    return path


@pytest.fixture()
def secret(secret_file: Path) -> NetworkSecret:
    return NetworkSecret.from_hex(secret_file.read_text(), origin="test")
