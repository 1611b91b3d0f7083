"""`risklist-admin backup` (of a running server, or of a stopped store), `verify` and `restore`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import SECRET_FILE_ENV, load_secret
from risklist_server.cli.admin_command import Command, UsageError
from risklist_server.cli.client_tls import add_client_tls_arguments, client_tls_problem, load_client_tls, open_channel
from risklist_server.core.errors import BackupError, StoreHeld

_SECRET_HELP = f"network secret, hex (default: ${SECRET_FILE_ENV})"


def _backup_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--admin", metavar="ADDR",
                       help="a running server's admin address (--admin-listen): it writes the backup itself")
    where.add_argument("--db", metavar="PATH", help="a stopped store to back up (no server may hold it)")
    parser.add_argument("--to", required=True, metavar="DIR",
                        help="a new or empty directory for the backup; with --admin an absolute path on the "
                             "server's machine")
    parser.add_argument("--secret-file", metavar="FILE", help=_SECRET_HELP + "; with --db only")
    add_client_tls_arguments(parser, used_with=" with --admin, with a certificate of a partner holding the admin role")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="with --admin: seconds to wait for the backup (default %(default)s)")


def _backup(args: argparse.Namespace) -> int:
    if args.admin is not None:
        return _backup_online(args)
    from risklist_server.store.risk_store import RiskStore

    secret = load_secret(args.secret_file)
    os.umask(0o077)
    try:
        store = RiskStore(args.db, secret_fingerprint=secret.fingerprint)
    except StoreHeld:
        raise BackupError(f"the store at {args.db} is held by another process (a running risklist-server?); back "
                          "a running server up through it with --admin ADDR, or stop that process first") from None
    with store:
        manifest = store.backup(Path(args.to))
    _done(args.to, manifest.changelog_sequence, len(manifest.files), sum(f.size for f in manifest.files),
          manifest.secret_fingerprint)
    return 0


def _backup_online(args: argparse.Namespace) -> int:
    problem = client_tls_problem(args)
    if problem:
        raise UsageError(problem)
    if not os.path.isabs(args.to):
        raise UsageError(f"--to {args.to}: with --admin, name the backup directory as an absolute path on the "
                         "server's machine (the server writes it)")
    try:
        with open_channel(args.admin, load_client_tls(args)) as channel:
            response = pb_grpc.AdminStub(channel).Backup(pb.BackupRequest(directory=args.to), timeout=args.timeout)
    except grpc.RpcError as error:
        print(f"risklist-admin backup: error: {args.admin} answered {error.code().name}: {error.details()}",
              file=sys.stderr)
        return 1
    _done(args.to, response.list_version, response.files, response.bytes, response.secret_fingerprint)
    return 0


def _done(directory: str, version: int, files: int, size: int, fingerprint: str) -> None:
    print(f"backup complete in {directory}: version {version}, {files} files, {size} bytes "
          f"(secret fingerprint {fingerprint})")


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
    help="back up a running server's store (--admin) or a stopped one (--db): checkpoint, front, checksums",
    description="Write a consistent backup of a running server's store (--admin: the server writes it, on its own "
    "machine, and goes on serving) or of the stopped store at --db (which no server may hold) into --to: a RocksDB "
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
