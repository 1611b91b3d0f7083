"""Network settings from a TOML file: region, batch limit, retention, source disclosure, expiry sweep,
partner filter sizing, the changelog's retention window, connection and stream limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from risklist_kernel.enums import Category
from risklist_server.core.errors import ConfigError
from risklist_server.core.toml_file import read_toml

DAY_SECONDS = 86_400
HOUR_SECONDS = 3_600

DEFAULT_CHANGELOG_MAX_AGE_HOURS = 72
"""A partner filter last updated on Friday evening still gets a delta on Monday morning (a long weekend
is 64-72 h); older ones get a reset and download the filter again (docs/operations.md)."""
DEFAULT_CHANGELOG_MAX_ENTRIES = 20_000_000
"""A safety net for disk, not the usual limit: one entry per write (a Report, an Ingest batch, 20,000
keys of a bulk load), so 72 h reach this only at 77 writes/s without a pause. Small entries take
~30-60 bytes on disk: at most about 1 GB, plus bulk loads' 360 KB entries."""

DEFAULT_RETENTION_DAYS: dict[Category, int] = {
    Category.TELECOM_FRAUD: 3 * 365,
    Category.MONEY_MULE: 6 * 365,
    Category.ACCOUNT_TAKEOVER: 365,
    Category.IDENTITY_FRAUD: 6 * 365,
    Category.GAMBLING: 2 * 365,
    Category.MONEY_LAUNDERING: 6 * 365,
    Category.SCAM_MERCHANT: 3 * 365,
    Category.OTHER: 365,
}
"""Used when a feed row has no expires_at; Cifas keeps confirmed fraud cases six years."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an operator may tune without code; docs/operations.md lists each key."""

    default_region: str = "CN"
    max_batch: int = 10_000
    retention_days: dict[Category, int] = field(
        default_factory=lambda: dict(DEFAULT_RETENTION_DAYS)
    )
    disclose_sources: bool = False
    """GetEntry shows other partners' source ids (a partner always sees its own)."""
    expiry_sweep_interval_seconds: float = 1.0
    """Pause between two slices of the writer's expiry sweep."""
    expiry_sweep_slice: int = 10_000
    """Records the expiry sweep reads per slice."""
    expiry_max_purged_fraction_per_hour: float = 0.01
    """The expiry sweep pauses once it purged more contributions within an hour than this fraction of the records
    (or 10,000 if more): a clock set years ahead would otherwise purge the whole list."""
    changelog_max_age_hours: int = DEFAULT_CHANGELOG_MAX_AGE_HOURS
    """The writer trims changelog entries older than this (partners further behind get a filter reset)."""
    changelog_max_entries: int = DEFAULT_CHANGELOG_MAX_ENTRIES
    """... and all but the newest this many entries, whatever their age."""
    changelog_trim_interval_seconds: float = 60.0
    """Pause between two trims of the changelog by the writer."""

    filter_bits_per_key: int = 16
    """Partner filter (GetFilter): bits of filter per listed key; docs/client.md gives bytes per entry."""
    filter_max_removed: int = 100_000
    """GetFilterUpdates says reset when more keys than this were unlisted since the client's version."""
    precision_min_outcomes: int = 10
    """A source's precision is known to the policy once this many confirmed + false-positive outcomes exist."""
    outcome_window_days: int = 30
    """ReportOutcome takes an outcome for a hit up to this many days after the answer that hit."""

    handshake_timeout_seconds: float = 10.0
    """A connection that has not completed its TLS handshake (shown a client certificate) by then is closed."""
    max_streams_per_member: int = 4
    """Open streaming calls (StreamCheck, GetFilter, GetFilterUpdates) one member may hold per worker."""
    stream_idle_seconds: float = 60.0
    """A stream on which the server waited this long for the member's next message, or for the member to take its next
    response, is ended (CANCELLED)."""
    max_slow_requests_per_member: int = 2
    """Calls of one member a worker keeps waiting for their request message past a second (each holds a
    thread); its further such calls are ended RESOURCE_EXHAUSTED (risklist_server.rpc.request_waits)."""
    request_wait_seconds: float = 10.0
    """No call waits longer than this for its request message: it is ended CANCELLED."""

    def retention_seconds(self, category: Category) -> int:
        """How long a contribution of `category` counts when the feed gives no expiry."""
        return self.retention_days[category] * DAY_SECONDS


def load_settings(path: str | Path | None) -> Settings:
    """Settings from a TOML file (None: defaults); raise ConfigError naming the key at fault."""
    if path is None:
        return Settings()
    config_path = Path(path)
    return _settings_from(read_toml(config_path, "config file"), origin=str(config_path))


def _settings_from(document: dict[str, Any], *, origin: str) -> Settings:
    known = {"default_region", "max_batch", "retention_days", "filter_bits_per_key", "filter_max_removed",
             "precision_min_outcomes", "outcome_window_days", *_CONTRIBUTION_KEYS, *_CHANGELOG_KEYS,
             *_CONNECTION_KEYS}
    unknown = sorted(set(document) - known)
    if unknown:
        raise ConfigError(f"{origin}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    region = document.get("default_region", "CN")
    if not (isinstance(region, str) and len(region) == 2 and region.isalpha()):
        raise ConfigError(f"{origin}: default_region must be a two-letter region code such as CN")
    max_batch = document.get("max_batch", 10_000)
    if not (_is_whole(max_batch) and 1 <= max_batch <= 1_000_000):
        raise ConfigError(f"{origin}: max_batch must be a whole number from 1 to 1000000")
    retention = dict(DEFAULT_RETENTION_DAYS)
    table = document.get("retention_days", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: retention_days must be a table of category = days")
    for name, days in table.items():
        try:
            category = Category.from_feed_name(name)
        except ValueError as error:
            raise ConfigError(f"{origin}: retention_days.{name}: {error}") from None
        if not (_is_whole(days) and 1 <= days <= 36_500):
            raise ConfigError(f"{origin}: retention_days.{name} must be whole days from 1 to 36500")
        retention[category] = days
    bits_per_key = document.get("filter_bits_per_key", 16)
    if not (_is_whole(bits_per_key) and 4 <= bits_per_key <= 64):
        raise ConfigError(f"{origin}: filter_bits_per_key must be a whole number from 4 to 64 (default 16)")
    max_removed = document.get("filter_max_removed", 100_000)
    if not (_is_whole(max_removed) and 0 <= max_removed <= 1_000_000_000):
        raise ConfigError(f"{origin}: filter_max_removed must be a whole number from 0 to 1000000000")
    min_outcomes = document.get("precision_min_outcomes", 10)
    if not (_is_whole(min_outcomes) and 1 <= min_outcomes <= 1_000_000):
        raise ConfigError(f"{origin}: precision_min_outcomes must be a whole number from 1 to 1000000 (default 10)")
    window_days = document.get("outcome_window_days", 30)
    if not (_is_whole(window_days) and 1 <= window_days <= 3650):
        raise ConfigError(f"{origin}: outcome_window_days must be a whole number of days from 1 to 3650 (default 30)")
    return Settings(default_region=region.upper(), max_batch=max_batch, retention_days=retention,
                    filter_bits_per_key=bits_per_key, filter_max_removed=max_removed,
                    precision_min_outcomes=min_outcomes, outcome_window_days=window_days,
                    **_contribution_settings(document, origin),
                    **_changelog_settings(document, origin),
                    **_connection_settings(document, origin))


_CONTRIBUTION_KEYS = ("disclose_sources", "expiry_sweep_interval_seconds", "expiry_sweep_slice",
                      "expiry_max_purged_fraction_per_hour")


def _contribution_settings(document: dict[str, Any], origin: str) -> dict[str, Any]:
    """disclose_sources and the expiry sweep's pace, checked."""
    disclose = document.get("disclose_sources", False)
    if not isinstance(disclose, bool):
        raise ConfigError(f"{origin}: disclose_sources must be true or false")
    interval = document.get("expiry_sweep_interval_seconds", 1.0)
    if not (isinstance(interval, int | float) and not isinstance(interval, bool) and 0.01 <= interval <= 3600):
        raise ConfigError(f"{origin}: expiry_sweep_interval_seconds must be a number from 0.01 to 3600")
    slice_size = document.get("expiry_sweep_slice", 10_000)
    if not (_is_whole(slice_size) and 1 <= slice_size <= 1_000_000):
        raise ConfigError(f"{origin}: expiry_sweep_slice must be a whole number from 1 to 1000000")
    fraction = document.get("expiry_max_purged_fraction_per_hour", 0.01)
    if not (isinstance(fraction, int | float) and not isinstance(fraction, bool) and 0 < fraction <= 1):
        raise ConfigError(f"{origin}: expiry_max_purged_fraction_per_hour must be a number above 0 and at most 1 "
                          "(default 0.01)")
    return {"disclose_sources": disclose, "expiry_sweep_interval_seconds": float(interval),
            "expiry_sweep_slice": slice_size, "expiry_max_purged_fraction_per_hour": float(fraction)}


_CHANGELOG_KEYS = ("changelog_max_age_hours", "changelog_max_entries", "changelog_trim_interval_seconds")


def _changelog_settings(document: dict[str, Any], origin: str) -> dict[str, Any]:
    """The changelog's retention window and the trim's pace, checked."""
    hours = document.get("changelog_max_age_hours", DEFAULT_CHANGELOG_MAX_AGE_HOURS)
    if not (_is_whole(hours) and 1 <= hours <= 8_760):
        raise ConfigError(f"{origin}: changelog_max_age_hours must be a whole number of hours from 1 to 8760 "
                          f"(default {DEFAULT_CHANGELOG_MAX_AGE_HOURS}: partner filters stay updatable over a weekend)")
    entries = document.get("changelog_max_entries", DEFAULT_CHANGELOG_MAX_ENTRIES)
    if not (_is_whole(entries) and 1_000 <= entries <= 10_000_000_000):
        raise ConfigError(f"{origin}: changelog_max_entries must be a whole number from 1000 to 10000000000 "
                          f"(default {DEFAULT_CHANGELOG_MAX_ENTRIES})")
    interval = document.get("changelog_trim_interval_seconds", 60.0)
    if not (_is_number(interval) and 1 <= interval <= 86_400):
        raise ConfigError(f"{origin}: changelog_trim_interval_seconds must be a number from 1 to 86400 (default 60)")
    return {"changelog_max_age_hours": hours, "changelog_max_entries": entries,
            "changelog_trim_interval_seconds": float(interval)}


_CONNECTION_KEYS = ("handshake_timeout_seconds", "max_streams_per_member", "stream_idle_seconds",
                    "max_slow_requests_per_member", "request_wait_seconds")


def _connection_settings(document: dict[str, Any], origin: str) -> dict[str, Any]:
    """The handshake timeout, the stream limits and the request waits, checked."""
    handshake = document.get("handshake_timeout_seconds", 10.0)
    if not (_is_number(handshake) and 0.1 <= handshake <= 300):
        raise ConfigError(f"{origin}: handshake_timeout_seconds must be a number from 0.1 to 300 (default 10)")
    per_member = document.get("max_streams_per_member", 4)
    if not (_is_whole(per_member) and 1 <= per_member <= 10_000):
        raise ConfigError(f"{origin}: max_streams_per_member must be a whole number from 1 to 10000 (default 4)")
    idle = document.get("stream_idle_seconds", 60.0)
    if not (_is_number(idle) and 0.1 <= idle <= 86_400):
        raise ConfigError(f"{origin}: stream_idle_seconds must be a number from 0.1 to 86400 (default 60)")
    slow = document.get("max_slow_requests_per_member", 2)
    if not (_is_whole(slow) and 1 <= slow <= 10_000):
        raise ConfigError(f"{origin}: max_slow_requests_per_member must be a whole number from 1 to 10000 (default 2)")
    wait = document.get("request_wait_seconds", 10.0)
    if not (_is_number(wait) and 1 <= wait <= 3_600):
        raise ConfigError(f"{origin}: request_wait_seconds must be a number from 1 to 3600 (default 10)")
    return {"handshake_timeout_seconds": float(handshake), "max_streams_per_member": per_member,
            "stream_idle_seconds": float(idle), "max_slow_requests_per_member": slow,
            "request_wait_seconds": float(wait)}


def _is_number(value: object) -> bool:
    """A TOML integer or float, not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_whole(value: object) -> bool:
    """A TOML integer; bool is an int subclass in Python, so `true` must not pass as 1."""
    return isinstance(value, int) and not isinstance(value, bool)
