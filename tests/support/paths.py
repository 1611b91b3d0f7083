"""Where the repository's own files are, for tests that read docs, seeds or packaging folders."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository's root (the folder holding pyproject.toml)."""
