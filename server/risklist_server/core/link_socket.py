"""Where the writer link's unix socket lives in a run directory, and whether a socket can be bound there."""

from __future__ import annotations

import os
from pathlib import Path

SOCKET_NAME = "writer.sock"
MAX_SOCKET_PATH_BYTES = 107
"""The longest path a unix socket can be bound to on Linux (sun_path holds 108 bytes with its NUL)."""


def link_socket_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / SOCKET_NAME


def link_socket_problem(run_dir: str | Path) -> str | None:
    """Why the writer link's socket cannot be bound in `run_dir` (its path is too long), else None."""
    path = os.fsencode(link_socket_path(run_dir))
    if len(path) <= MAX_SOCKET_PATH_BYTES:
        return None
    return (f"the writer link's socket path {os.fsdecode(path)!r} is {len(path)} bytes, and a unix socket path "
            f"may have at most {MAX_SOCKET_PATH_BYTES}; point TMPDIR at a shorter directory (such as /tmp) "
            "or serve with --workers 1")
