"""Settings TOML loading and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from risklist_kernel.enums import Category
from risklist_server.core.errors import ConfigError
from risklist_server.core.settings import DAY_SECONDS, DEFAULT_RETENTION_DAYS, Settings, load_settings


def write(tmp_path: Path, text: str) -> Path:
    """A risklist.toml in tmp_path holding `text`."""
    path = tmp_path / "risklist.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_gives_defaults() -> None:
    """Without a config file the defaults apply: CN, 10,000 per batch, the default retention."""
    settings = load_settings(None)
    assert settings == Settings()
    assert (settings.default_region, settings.max_batch) == ("CN", 10_000)
    assert settings.retention_days == DEFAULT_RETENTION_DAYS


def test_values_are_read_and_region_upper_cased(tmp_path: Path) -> None:
    """Every key is read; the region is upper-cased; unnamed categories keep their default."""
    path = write(
        tmp_path,
        'default_region = "hk"\nmax_batch = 500\n[retention_days]\nGambling = 30\nother = 7\n',
    )
    settings = load_settings(path)
    assert settings.default_region == "HK"
    assert settings.max_batch == 500
    assert settings.retention_days[Category.GAMBLING] == 30
    assert settings.retention_seconds(Category.OTHER) == 7 * DAY_SECONDS
    assert (
        settings.retention_days[Category.MONEY_MULE] == DEFAULT_RETENTION_DAYS[Category.MONEY_MULE]
    )


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A config path that does not exist is a ConfigError saying so."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")


def test_directory_is_a_config_error(tmp_path: Path) -> None:
    """A directory given as the config file is a ConfigError, not an OSError."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path)


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    """A file that is not UTF-8 is a ConfigError."""
    path = tmp_path / "latin1.toml"
    path.write_bytes('default_region = "\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_batch = ", "not valid TOML"),
        ("maxbatch = 5\n", "unknown key\\(s\\) maxbatch"),
        ('default_region = "CHN"\n', "default_region must be a two-letter"),
        ("default_region = 86\n", "default_region must be a two-letter"),
        ("max_batch = 0\n", "max_batch must be a whole number"),
        ("max_batch = 1000001\n", "max_batch must be a whole number"),
        ('max_batch = "100"\n', "max_batch must be a whole number"),
        ("max_batch = 1.5\n", "max_batch must be a whole number"),
        ("retention_days = 30\n", "retention_days must be a table"),
        ("[retention_days]\nphishing = 30\n", "retention_days.phishing: unknown value"),
        ("[retention_days]\nother = 0\n", "retention_days.other must be whole days"),
        ("[retention_days]\nother = 36501\n", "retention_days.other must be whole days"),
        ('[retention_days]\nother = "30"\n', "retention_days.other must be whole days"),
        ("max_batch = true\n", "max_batch must be a whole number"),
        ("[retention_days]\nother = true\n", "retention_days.other must be whole days"),
        ("filter_bits_per_key = 3\n", "filter_bits_per_key must be a whole number from 4 to 64"),
        ("filter_max_removed = -1\n", "filter_max_removed must be a whole number"),
        ("max_slow_requests_per_member = 0\n", "max_slow_requests_per_member must be a whole number from 1"),
        ("max_slow_requests_per_member = true\n", "max_slow_requests_per_member must be a whole number"),
        ("request_wait_seconds = 0.5\n", "request_wait_seconds must be a number from 1 to 3600"),
        ('request_wait_seconds = "10"\n', "request_wait_seconds must be a number from 1 to 3600"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    """Each bad value is a ConfigError naming the file and the key at fault."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)


def test_the_outcome_window_is_whole_days_from_1_to_3650(tmp_path: Path) -> None:
    """outcome_window_days defaults to 30, is read from the file, and anything but 1..3650 whole days names the key."""
    assert Settings().outcome_window_days == 30
    assert load_settings(write(tmp_path, "outcome_window_days = 7\n")).outcome_window_days == 7
    for bad in ("0", "3651", "1.5", '"30"', "true"):
        with pytest.raises(ConfigError, match="outcome_window_days must be a whole number of days from 1 to 3650"):
            load_settings(write(tmp_path, f"outcome_window_days = {bad}\n"))


def test_request_waits_are_read_with_their_defaults(tmp_path: Path) -> None:
    """max_slow_requests_per_member (2) and request_wait_seconds (10) default, and are read from the file."""
    assert (Settings().max_slow_requests_per_member, Settings().request_wait_seconds) == (2, 10.0)
    settings = load_settings(write(tmp_path, "max_slow_requests_per_member = 5\nrequest_wait_seconds = 3\n"))
    assert (settings.max_slow_requests_per_member, settings.request_wait_seconds) == (5, 3.0)
