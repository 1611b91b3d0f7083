"""Fixtures for loader tests: a network secret on disk, and a scratch TMPDIR for subprocesses."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from risklist_kernel.secret import NetworkSecret, write_secret


@pytest.fixture()
def secret_file(tmp_path: Path) -> Path:
    return write_secret(tmp_path / "network.secret", NetworkSecret(secrets.token_bytes(32)))


@pytest.fixture()
def secret(secret_file: Path) -> NetworkSecret:
    return NetworkSecret.from_hex(secret_file.read_text(), origin="test")
