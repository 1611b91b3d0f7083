"""The server's scratch directories (replicas, writer link, metrics): private, locked while used, cleaned once left."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile

import structlog

PREFIXES = ("risklist-run-", "risklist-replicas-", "risklist-metrics-")
LOCK_NAME = ".owner.lock"
"""Held (flock) by the supervisor and, through fork, its workers for as long as any of them runs."""

log = structlog.get_logger("risklist.server")

_held: list[int] = []  # lock descriptors this process keeps open until it exits


def make_run_dir(prefix: str) -> str:
    """A new 0700 directory under $TMPDIR whose lock this process and its forks hold until they exit."""
    path = tempfile.mkdtemp(prefix=prefix)
    descriptor = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    _held.append(descriptor)
    return path


def remove_abandoned_run_dirs(directory: str | None = None) -> list[str]:
    """Remove this user's scratch directories whose owner is gone (a supervisor killed with -9 and its workers).

    A directory counts as abandoned only when its lock can be taken: a running server, or a
    worker still draining, holds it. Directories without a lock file are left alone.
    """
    parent = directory or tempfile.gettempdir()
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(parent):
            if entry.name.startswith(PREFIXES) and _abandoned(entry):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.path)
    if removed:
        log.info("run_dirs_removed", count=len(removed), directory=parent)
    return removed


def _abandoned(entry: os.DirEntry[str]) -> bool:
    try:
        if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
            return False
        descriptor = os.open(os.path.join(entry.path, LOCK_NAME), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True
