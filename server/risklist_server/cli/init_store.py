"""`risklist-admin init-store`: create an empty store, marked with the network secret, for a server to serve."""

from __future__ import annotations

import argparse
import os

from risklist_kernel.secret import SECRET_FILE_ENV, load_secret
from risklist_server.cli.admin_command import Command


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, metavar="PATH", help="the store directory to create (0700)")
    parser.add_argument("--secret-file", metavar="FILE", help=f"network secret, hex (default: ${SECRET_FILE_ENV})")


def _run(args: argparse.Namespace) -> int:
    """Create the store (exit 0); an existing store made with this secret is left as it is."""
    from risklist_server.store.risk_store import init_store

    secret = load_secret(args.secret_file)
    os.umask(0o077)  # RocksDB creates its files with the process umask: owner only
    init_store(args.db, secret.fingerprint)
    print(f"store ready at {args.db} (secret fingerprint {secret.fingerprint})")
    return 0


COMMAND = Command(
    name="init-store",
    help="create an empty store for risklist-server (which never creates one)",
    description="Create an empty store directory (0700, files 0600) marked with the network secret's fingerprint. "
    "risklist-server refuses a directory that is not a complete store; risklist-load --db creates one too.",
    add_arguments=_arguments,
    run=_run,
)
