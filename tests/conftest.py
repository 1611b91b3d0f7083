"""Suite-wide settings (Hypothesis runs derandomized in CI, so a CI run is reproducible) and a network secret."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from hypothesis import settings

from risklist_kernel.secret import NetworkSecret, write_secret

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture()
def secret() -> NetworkSecret:
    """A fresh random network secret."""
    return NetworkSecret(secrets.token_bytes(32))


@pytest.fixture()
def secret_file(tmp_path: Path, secret: NetworkSecret) -> Path:
    """The secret in a file, as --secret-file reads it."""
    return write_secret(tmp_path / "network.secret", secret)

