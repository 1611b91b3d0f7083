"""A daemon thread that calls one function every few seconds until stopped, logging its failures and going on."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger("risklist.server")


class Poller:
    """Calls `poll` every `seconds` on a daemon thread; an exception is logged as `failure_event` (with
    `fields`) and the next round comes as usual, so a watcher never dies silently.

    With `once_per_outage`, a run of failing rounds is logged once, at its first round (a background job
    that fails every minute while a disk is full says so once, not 60 times an hour); `failed_rounds`
    counts every failed round either way.
    """

    def __init__(self, poll: Callable[[], object], *, seconds: float, name: str, failure_event: str,
                 logger: structlog.typing.FilteringBoundLogger | None = None, once_per_outage: bool = False,
                 **fields: object) -> None:
        self._poll = poll
        self._seconds = seconds
        self._name = name
        self._failure_event = failure_event
        self._log = logger or log
        self._once_per_outage = once_per_outage
        self._fields = fields
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed_rounds = 0
        """Rounds whose poll raised, since the start (each retried at the next round)."""

    def start(self) -> None:
        """Start the thread (once; later calls do nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after the round in progress and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self._seconds):
            try:
                self._poll()
            except Exception as error:  # keep what is in force; say why this round failed
                self.failed_rounds += 1
                if not (failing and self._once_per_outage):
                    self._log.error(self._failure_event, error=str(error), **self._fields)
                failing = True
            else:
                failing = False
