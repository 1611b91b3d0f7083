"""Checking a backup without writing to it: marker, manifest, checksums, front, and RocksDB opened read-only."""

from __future__ import annotations

import tempfile
from pathlib import Path

from risklist_server.core.backup_manifest import BackupManifest, completion_marker, parse_manifest
from risklist_server.core.errors import BackupError, StoreError
from risklist_server.store.checkpoint import COMPLETE_FILE, MANIFEST_FILE, STORE_DIR, file_sha256
from risklist_server.store.front_file import FrontOwner, SavedFront, load_front
from risklist_server.store.reads import FRONT_FILE
from risklist_server.store.rocks import (
    CHANGELOG_CF,
    META_CF,
    SECRET_FINGERPRINT_KEY,
    get_one,
    iter_keys,
    open_rocks_read_only,
)
from risklist_server.store.store_id import read_store_id

_NOT_COMPLETE = ("it is not a complete backup (the backup was interrupted, or this is not a backup directory); "
                 "use another backup, and make a new one into an empty directory")


def verify_backup(backup: Path, *, expected_fingerprint: str | None = None) -> BackupManifest:
    """The backup's manifest once every check passes; BackupError naming the first failure otherwise.

    Checks, in order: the completion marker names the manifest's checksum; the store directory holds
    exactly the manifest's files, each of its size and sha256; RocksDB opens the store read-only, under
    the manifest's secret fingerprint (and `expected_fingerprint`, if given), at that sequence; the
    front file is that secret's and that store's (the id in its `meta`) and covers that sequence.
    """
    if not backup.is_dir():
        raise BackupError(f"there is no backup directory at {backup}")
    manifest_path = backup / MANIFEST_FILE
    try:
        marker = (backup / COMPLETE_FILE).read_bytes()
        data = manifest_path.read_bytes()
    except FileNotFoundError as error:
        raise BackupError(f"{backup} has no {Path(str(error.filename)).name}: {_NOT_COMPLETE}") from None
    if marker != completion_marker(data):
        raise BackupError(f"{backup}'s completion marker does not match its manifest: the backup is damaged; "
                          "use another one")
    manifest = parse_manifest(data, str(manifest_path))
    if expected_fingerprint is not None and manifest.secret_fingerprint != expected_fingerprint:
        raise BackupError(f"the backup at {backup} was made under another network secret (fingerprint "
                          f"{manifest.secret_fingerprint}, given {expected_fingerprint}); restore it with the "
                          "secret it was made with, or use a backup of this network's store")
    _check_files(backup / STORE_DIR, manifest)
    store_id = _check_rocks(backup / STORE_DIR, manifest)
    _check_front(backup / STORE_DIR, manifest, FrontOwner(manifest.secret_fingerprint, store_id))
    return manifest


def _check_files(store: Path, manifest: BackupManifest) -> None:
    listed = {f.name: f for f in manifest.files}
    present = {path.name for path in store.iterdir()} if store.is_dir() else set()
    missing, extra = sorted(listed.keys() - present), sorted(present - listed.keys())
    if missing or extra:
        what = "; ".join(part for part in (f"missing {', '.join(missing)}" if missing else "",
                                           f"not in its manifest: {', '.join(extra)}" if extra else "") if part)
        raise BackupError(f"the backup's store directory {store} does not hold what its manifest lists ({what}); "
                          "the backup is damaged, use another one")
    for name, entry in sorted(listed.items()):
        path = store / name
        size = path.stat().st_size
        if size != entry.size or file_sha256(path) != entry.sha256:
            raise BackupError(f"{path} does not match its manifest ({size} bytes, manifest {entry.size}; or its "
                              "sha256 differs): the backup is damaged, use another one")


def _check_front(store: Path, manifest: BackupManifest, owner: FrontOwner) -> None:
    saved = load_front(store / FRONT_FILE, owner)
    if not isinstance(saved, SavedFront) or saved.covered_sequence != manifest.changelog_sequence:
        why = saved if isinstance(saved, str) else f"it covers version {saved.covered_sequence}"
        raise BackupError(f"the backup's Bloom front {store / FRONT_FILE} is refused ({why}), it must be the "
                          f"store's and cover version {manifest.changelog_sequence}: the backup is damaged, use "
                          "another one")


def _check_rocks(store: Path, manifest: BackupManifest) -> str:
    """Check the store's secret fingerprint and version against the manifest; return its store id."""
    with tempfile.TemporaryDirectory(prefix="risklist-verify-") as info_log_dir:
        try:
            db = open_rocks_read_only(str(store), info_log_dir)
        except StoreError as error:
            raise BackupError(f"{error}: the backup is damaged, use another one") from None
        try:
            meta, changelog = db.get_column_family(META_CF), db.get_column_family(CHANGELOG_CF)
            stored = get_one(meta, SECRET_FINGERPRINT_KEY)
            store_id = read_store_id(meta)
            last = next(iter_keys(changelog, backwards=True), None)
            meta.close()
            changelog.close()
        finally:
            db.close()
    fingerprint = None if stored is None else stored.decode()
    if fingerprint != manifest.secret_fingerprint:
        raise BackupError(f"the store in {store} holds secret fingerprint {fingerprint}, its manifest says "
                          f"{manifest.secret_fingerprint}: the backup is damaged, use another one")
    sequence = 0 if last is None else int.from_bytes(last, "big")
    if sequence != manifest.changelog_sequence:
        raise BackupError(f"the store in {store} is at version {sequence}, its manifest says "
                          f"{manifest.changelog_sequence}: the backup is damaged, use another one")
    return store_id
