"""The policy in force in a serving process: loaded at start, reloaded when its file changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import structlog
from prometheus_client import Gauge

from risklist_server.core.errors import PolicyError
from risklist_server.core.policy import DEFAULT_POLICY, Policy
from risklist_server.core.policy_file import parse_policy
from risklist_server.services.poller import Poller

POLL_SECONDS = 0.5

log = structlog.get_logger("risklist.policy")

IN_FORCE = Gauge(
    "risklist_policy_in_force",
    "Server processes serving each policy version now (its `version`, as logged in policy_loaded).",
    ["version"],
    multiprocess_mode="livesum",
)


class PolicyWatch:
    """Holds the current policy; a daemon thread re-reads the file every POLL_SECONDS.

    The file's bytes are compared, not its mtime, so an edit within one timestamp tick or a
    rename over it are both seen. A changed file that parses replaces the policy at once
    (`policy_loaded`); one that does not is logged with its line and reason
    (`policy_rejected`) once per distinct content, and the old policy stays in force.
    """

    def __init__(
        self, path: str | Path | None, *, fallback: Policy | None = None, poll_seconds: float = POLL_SECONDS,
        optional: bool = False, origin: str | None = None,
    ) -> None:
        """Load `path` (None: the built-in policy). If it cannot be used, raise PolicyError, or
        with a `fallback` (a restarted worker: the policy checked at start-up) log
        `policy_rejected` and serve the fallback until the file is fixed.

        `optional`: a missing file means the built-in policy (a cluster node's copy of the cluster's
        policy, absent while none was pushed); `origin` names the policy in logs instead of `path`."""
        self._path = None if path is None else Path(path)
        self._optional = optional
        self._origin = str(self._path) if origin is None else origin
        self._poller = Poller(self.poll, seconds=poll_seconds, name="policy-watch", failure_event="policy_watch_failed",
                              path=self._origin)
        self._seen: bytes | None = None
        self._current = DEFAULT_POLICY if fallback is None else fallback
        if self._path is not None:
            data = self._read()
            self._seen = b"" if data is None else _digest(data)
            try:
                if data is None and self._missing():
                    self._current = DEFAULT_POLICY
                elif data is None:
                    raise PolicyError(self._origin, 0, "the policy file does not exist or cannot be read")
                else:
                    self._current = parse_policy(data, origin=self._origin)
            except PolicyError as error:
                if fallback is None:
                    raise
                log.error("policy_rejected", path=error.path, line=error.line, reason=error.reason,
                          kept_version=fallback.version)
                IN_FORCE.labels(self._current.version).inc()
                return
        IN_FORCE.labels(self._current.version).inc()
        log.info("policy_loaded", path=self._current.origin, version=self._current.version,
                 rules=len(self._current.rules), reload=False)

    @property
    def current(self) -> Policy:
        """The policy in force (one attribute read: safe from any thread)."""
        return self._current

    def start(self) -> PolicyWatch:
        """Start watching the file (nothing to watch for the built-in policy)."""
        if self._path is not None:
            self._poller.start()
        return self

    def stop(self) -> None:
        self._poller.stop()

    def poll(self) -> None:
        """Look at the file once: load it if it changed and parses, log why not if it does not."""
        if self._path is None:
            return
        data = self._read()
        seen = b"" if data is None else _digest(data)
        if seen == self._seen:
            return
        self._seen = seen
        kept = {"kept_version": self._current.version}
        if data is None and self._missing():
            policy = DEFAULT_POLICY
        elif data is None:
            log.error("policy_rejected", path=self._origin, line=0,
                      reason="the policy file does not exist or cannot be read", **kept)
            return
        else:
            try:
                policy = parse_policy(data, origin=self._origin)
            except PolicyError as error:
                log.error("policy_rejected", path=error.path, line=error.line, reason=error.reason, **kept)
                return
        if policy.version != self._current.version:
            IN_FORCE.labels(self._current.version).dec()
            IN_FORCE.labels(policy.version).inc()
            self._current = policy
            log.info("policy_loaded", path=policy.origin, version=policy.version, rules=len(policy.rules),
                     reload=True)

    def _missing(self) -> bool:
        """Whether a file that could not be read means the built-in policy: an optional one that is absent."""
        return self._optional and self._path is not None and not self._path.exists()

    def _read(self) -> bytes | None:
        assert self._path is not None
        try:
            return self._path.read_bytes()
        except OSError:
            return None


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
