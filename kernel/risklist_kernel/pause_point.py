"""Test builds' pause points: a named step of a long job stops there, so a test can kill -9 it at that step.

Set RISKLIST_PAUSE_AT to a step's name and RISKLIST_PAUSE_FILE to a path: at that step the process
creates the file and sleeps until it is killed. Unset (always, outside tests), a pause point does
nothing. Shared by the server (docs/operations.md, "Backup and restore") and the SDK's watchlist
(docs/client.md, "Watchlists and alerts").
"""

from __future__ import annotations

import os
import time

PAUSE_AT_ENV = "RISKLIST_PAUSE_AT"
PAUSE_FILE_ENV = "RISKLIST_PAUSE_FILE"


def pause_point(step: str) -> None:
    """Sleep forever at `step` when RISKLIST_PAUSE_AT names it (after creating RISKLIST_PAUSE_FILE)."""
    if os.environ.get(PAUSE_AT_ENV) != step:
        return
    with open(os.environ[PAUSE_FILE_ENV], "w") as marker:
        marker.write(step)
    while True:
        time.sleep(60)
