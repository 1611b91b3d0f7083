"""`risklist-admin backup`, `verify` and `restore`: a stopped store's backup, its check, and its restore."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from risklist_kernel.secret import SECRET_FILE_ENV, load_secret
from risklist_server.cli.admin_command import Command

_SECRET_HELP = f"network secret, hex (default: ${SECRET_FILE_ENV})"


def _backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, metavar="PATH", help="the store to back up (no server may hold it)")
    parser.add_argument("--to", required=True, metavar="DIR", help="a new or empty directory for the backup")
    parser.add_argument("--secret-file", metavar="FILE", help=_SECRET_HELP)


def _backup(args: argparse.Namespace) -> int:
    from risklist_server.store.risk_store import RiskStore

    secret = load_secret(args.secret_file)
    os.umask(0o077)
    with RiskStore(args.db, secret_fingerprint=secret.fingerprint) as store:
        manifest = store.backup(Path(args.to))
    print(f"backup complete in {args.to}: version {manifest.changelog_sequence}, {len(manifest.files)} files, "
          f"{sum(f.size for f in manifest.files)} bytes (secret fingerprint {manifest.secret_fingerprint})")
    return 0


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("backup", metavar="DIR", help="the backup directory to check")


def _verify(args: argparse.Namespace) -> int:
    from risklist_server.store.backup_verify import verify_backup

    manifest = verify_backup(Path(args.backup))
    print(f"backup {args.backup} is complete and intact: version {manifest.changelog_sequence}, "
          f"{len(manifest.files)} files, secret fingerprint {manifest.secret_fingerprint}")
    return 0


def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="backup", required=True, metavar="DIR", help="the backup to restore")
    parser.add_argument("--db", required=True, metavar="PATH",
                        help="where the store goes: absent or an empty directory (never replaces a store)")
    parser.add_argument("--secret-file", metavar="FILE", help=_SECRET_HELP)


def _restore(args: argparse.Namespace) -> int:
    from risklist_server.store.restore import restore_backup

    secret = load_secret(args.secret_file)
    os.umask(0o077)
    manifest = restore_backup(Path(args.backup), Path(args.db), secret_fingerprint=secret.fingerprint)
    print(f"restored {args.backup} at {args.db}: version {manifest.changelog_sequence}; writes after that "
          "version are not in it (docs/operations.md, \"Backup and restore\")")
    return 0


BACKUP = Command(
    name="backup",
    help="back up a stopped store into a new directory (checkpoint, front, manifest with checksums)",
    description="Write a consistent backup of the store at --db (which no server may hold) into --to: a RocksDB "
    "checkpoint (hard links where the file system allows), the Bloom front, a manifest with each file's sha256, "
    "and last a completion marker, written only once everything is on disk.",
    add_arguments=_backup_arguments,
    run=_backup,
)

VERIFY = Command(
    name="verify",
    help="check a backup (marker, manifest, checksums, RocksDB read-only) without writing to it",
    description="Exit 0 if the backup at DIR is complete and intact; 1, saying what is wrong, otherwise.",
    add_arguments=_verify_arguments,
    run=_verify,
)

RESTORE = Command(
    name="restore",
    help="restore a verified backup at a store path that is absent or empty",
    description="Verify the backup (refusing an incomplete or damaged one, or one made under another secret), copy "
    "it into a new directory beside --db, then rename it to --db in one step. A store already at --db is never "
    "replaced: move it aside first.",
    add_arguments=_restore_arguments,
    run=_restore,
)
