"""The SDK's counters, and the snapshot of them an application exports to its own monitoring."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class ClientMetrics:
    """Counters since the client started, and the filter's state, at one moment."""

    checks: int = 0
    """Subjects checked (check_many counts each subject)."""
    answered_locally: int = 0
    """Subjects the local filter answered "not listed" without asking the server."""
    answered_from_cache: int = 0
    """Subjects answered with a listed answer the server gave shortly before (the positive cache)."""
    server_checks: int = 0
    """Subjects sent to the server (possible hits, or every subject when falling back)."""
    fallback_checks: int = 0
    """Of server_checks: sent only because the filter was not loaded or was stale (or prescreen=False)."""
    listed: int = 0
    """Subjects the server answered listed."""
    check_failures: int = 0
    """Subjects whose server check failed (CheckFailed raised)."""
    filter_downloads: int = 0
    """Complete filters downloaded (GetFilter) and checksum-verified."""
    filter_updates: int = 0
    """Successful update rounds (GetFilterUpdates)."""
    filter_resets: int = 0
    """Times the server said reset (the filter was downloaded again)."""
    checksum_mismatches: int = 0
    """Downloads discarded because their SHA-256 did not match the trailer (then downloaded again)."""
    secret_mismatches: int = 0
    """Times the server, a filter or an update named another network secret than the client's (SecretMismatch)."""
    refresh_failures: int = 0
    """Refresh rounds that failed (server away, bad stream); each is retried after a back-off."""
    backoff_seconds: float = 0.0
    """The wait before the next refresh after failures (0 while refreshes succeed)."""
    secret_verified: bool = False
    """The server's secret fingerprint matched the client's, and no reconnect or foreign filter happened since."""
    filter_loaded: bool = False
    filter_fresh: bool = False
    """Loaded and refreshed within max_staleness: only then does the filter answer checks."""
    filter_version: int = 0
    filter_age_seconds: float = -1.0
    """Seconds since the last successful refresh began (-1: never)."""
    filter_bytes: int = 0
    filter_keys: int = 0


class Counters:
    """Thread-safe counters behind ClientMetrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = {f.name: 0 for f in fields(ClientMetrics) if f.type == "int"}

    def add(self, **increments: int) -> None:
        with self._lock:
            for name, amount in increments.items():
                self._values[name] += amount

    # The per-check paths, without building a keyword dict each time.
    def add_answered_locally(self) -> None:
        with self._lock:
            values = self._values
            values["checks"] += 1
            values["answered_locally"] += 1

    def add_answered_from_cache(self) -> None:
        with self._lock:
            values = self._values
            values["checks"] += 1
            values["answered_from_cache"] += 1

    def add_server_check(self, *, fallback: bool) -> None:
        with self._lock:
            values = self._values
            values["checks"] += 1
            values["server_checks"] += 1
            values["fallback_checks"] += fallback

    def values(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)
