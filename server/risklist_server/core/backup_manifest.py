"""A backup's manifest (what it holds, with sha256 checksums) and its completion marker: pure data and text."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from risklist_server.core.errors import BackupError

MANIFEST_FORMAT = "risklist-backup"
MANIFEST_VERSION = 1
COMPLETE_PREFIX = "risklist backup complete; manifest sha256 "
"""The completion marker's text is this prefix, the manifest's sha256 (hex) and a newline."""


@dataclass(frozen=True, slots=True)
class BackedUpFile:
    """One file of the backed-up store: its name inside the store directory, size and sha256 (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BackupManifest:
    """What a backup holds: the store's files, the changelog sequence they cover, the secret's fingerprint."""

    created_at: int
    """Unix seconds when the checkpoint was taken."""
    secret_fingerprint: str
    changelog_sequence: int
    """The store's list version at the checkpoint: every write up to it is in the backup, none after."""
    files: tuple[BackedUpFile, ...]

    def to_bytes(self) -> bytes:
        """The manifest as JSON (sorted keys, files by name), so the same backup always gives the same bytes."""
        document = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "created_at": self.created_at,
            "secret_fingerprint": self.secret_fingerprint,
            "changelog_sequence": self.changelog_sequence,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256}
                      for f in sorted(self.files, key=lambda f: f.name)],
        }
        return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def completion_marker(manifest_bytes: bytes) -> bytes:
    """The completion marker's content for a manifest: it names the manifest's checksum."""
    return f"{COMPLETE_PREFIX}{hashlib.sha256(manifest_bytes).hexdigest()}\n".encode()


def _field(document: dict[str, Any], name: str, kind: type, where: str) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BackupError(f"{where}: field {name!r} is missing or not a {kind.__name__}; the backup is damaged, "
                          "use another one")
    return value


def parse_manifest(data: bytes, where: str) -> BackupManifest:
    """The manifest in `data` (read from `where`); BackupError saying what is wrong with it otherwise."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{where} is not a backup manifest ({error}); the backup is damaged, use another one"
                          ) from None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{where} is not a risklist backup manifest; the backup is damaged, use another one")
    if document.get("version") != MANIFEST_VERSION:
        raise BackupError(f"{where} has manifest version {document.get('version')!r}, this risklist reads "
                          f"version {MANIFEST_VERSION}; restore it with the risklist release that made it")
    files = []
    for entry in _field(document, "files", list, where):
        if not isinstance(entry, dict):
            raise BackupError(f"{where}: a files entry is not an object; the backup is damaged, use another one")
        name = _field(entry, "name", str, where)
        if not name or "/" in name or name.startswith("."):
            raise BackupError(f"{where}: file name {name!r} is not a plain file name; the backup is damaged")
        files.append(BackedUpFile(name, _field(entry, "size", int, where), _field(entry, "sha256", str, where)))
    return BackupManifest(
        created_at=_field(document, "created_at", int, where),
        secret_fingerprint=_field(document, "secret_fingerprint", str, where),
        changelog_sequence=_field(document, "changelog_sequence", int, where),
        files=tuple(files),
    )
