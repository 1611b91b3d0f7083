"""The backup manifest round-trips, and a damaged one is refused with a clear error."""

from __future__ import annotations

import pytest

from risklist_server.core.backup_manifest import BackedUpFile, BackupManifest, completion_marker, parse_manifest
from risklist_server.core.errors import BackupError

MANIFEST = BackupManifest(1_800_000_000, "ab12", 42, (BackedUpFile("CURRENT", 16, "00" * 32),
                                                     BackedUpFile("000009.sst", 1024, "11" * 32)))


def test_manifest_round_trips_and_its_bytes_are_stable() -> None:
    """Parsing a manifest's bytes gives it back (files by name), and writing it again gives the same bytes."""
    data = MANIFEST.to_bytes()
    parsed = parse_manifest(data, "m.json")
    assert parsed.changelog_sequence == 42 and parsed.secret_fingerprint == "ab12"
    assert sorted(parsed.files, key=lambda f: f.name) == sorted(MANIFEST.files, key=lambda f: f.name)
    assert parsed.to_bytes() == data


def test_completion_marker_names_the_manifest_checksum() -> None:
    """The marker changes with any byte of the manifest."""
    data = MANIFEST.to_bytes()
    assert completion_marker(data) != completion_marker(data.replace(b"42", b"43"))


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"format": "other"}',
                                  b'{"format": "risklist-backup", "version": 9}',
                                  b'{"format": "risklist-backup", "version": 1, "files": [{"name": "../x"}]}'])
def test_damaged_manifest_is_refused_naming_the_file(data: bytes) -> None:
    """Bad JSON, another format or version, or a file name with a path: BackupError naming where."""
    with pytest.raises(BackupError, match="m.json"):
        parse_manifest(data, "m.json")
