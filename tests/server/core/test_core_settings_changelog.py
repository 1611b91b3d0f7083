"""Settings keys for the changelog's retention window: by age, by entries, and the trim's pace."""

from __future__ import annotations

from pathlib import Path

import pytest

from risklist_server.core.errors import ConfigError
from risklist_server.core.settings import Settings, load_settings


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "risklist.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_defaults_keep_a_weekend_of_changes() -> None:
    """By default 72 hours and up to 20 million entries are kept, trimmed once a minute."""
    defaults = load_settings(None)
    assert (defaults.changelog_max_age_hours, defaults.changelog_max_entries,
            defaults.changelog_trim_interval_seconds) == (72, 20_000_000, 60.0)


def test_keys_are_read(tmp_path: Path) -> None:
    """changelog_max_age_hours, changelog_max_entries and changelog_trim_interval_seconds come from the file."""
    settings = _load(tmp_path, "changelog_max_age_hours = 24\nchangelog_max_entries = 5000\n"
                               "changelog_trim_interval_seconds = 5\n")
    assert (settings.changelog_max_age_hours, settings.changelog_max_entries,
            settings.changelog_trim_interval_seconds) == (24, 5000, 5.0)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("changelog_max_age_hours = 0", "changelog_max_age_hours"),
        ("changelog_max_age_hours = 1.5", "changelog_max_age_hours"),
        ("changelog_max_entries = 10", "changelog_max_entries"),
        ("changelog_max_entries = true", "changelog_max_entries"),
        ("changelog_trim_interval_seconds = 0", "changelog_trim_interval_seconds"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    """A bad value is a ConfigError naming its key."""
    with pytest.raises(ConfigError, match=key):
        _load(tmp_path, text + "\n")
