"""Stopping a server the harness started: SIGTERM, then SIGKILL if it has not gone within the timeout."""

from __future__ import annotations

import subprocess
from typing import Any


def stop_child(process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """Terminate `process` (if it still runs) and reap it, killing it after `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
