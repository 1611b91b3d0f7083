"""Settings keys for contributions: disclose_sources and the expiry sweep's pace."""

from __future__ import annotations

from pathlib import Path

import pytest

from risklist_server.core.errors import ConfigError
from risklist_server.core.settings import Settings, load_settings


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "risklist.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_defaults_withhold_sources_and_sweep_every_second() -> None:
    """By default other partners' ids are withheld, and the sweep reads 10,000 records a second."""
    defaults = load_settings(None)
    assert (defaults.disclose_sources, defaults.expiry_sweep_interval_seconds, defaults.expiry_sweep_slice,
            defaults.expiry_max_purged_fraction_per_hour) == (False, 1.0, 10_000, 0.01)


def test_keys_are_read(tmp_path: Path) -> None:
    """disclose_sources and the expiry sweep's keys are taken from the file."""
    settings = _load(tmp_path, "disclose_sources = true\nexpiry_sweep_interval_seconds = 0.5\n"
                               "expiry_sweep_slice = 500\nexpiry_max_purged_fraction_per_hour = 1\n")
    assert (settings.disclose_sources, settings.expiry_sweep_interval_seconds, settings.expiry_sweep_slice,
            settings.expiry_max_purged_fraction_per_hour) == (True, 0.5, 500, 1.0)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('disclose_sources = "yes"', "disclose_sources"),
        ("expiry_sweep_interval_seconds = 0", "expiry_sweep_interval_seconds"),
        ("expiry_sweep_interval_seconds = true", "expiry_sweep_interval_seconds"),
        ("expiry_sweep_slice = 2.5", "expiry_sweep_slice"),
        ("expiry_max_purged_fraction_per_hour = 0", "expiry_max_purged_fraction_per_hour"),
        ("expiry_max_purged_fraction_per_hour = 1.5", "expiry_max_purged_fraction_per_hour"),
        ("expiry_max_purged_fraction_per_hour = false", "expiry_max_purged_fraction_per_hour"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    """A bad value is a ConfigError naming its key."""
    with pytest.raises(ConfigError, match=key):
        _load(tmp_path, text + "\n")
