"""`risklist-admin`: the operator's tools, one subcommand per module."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from risklist_kernel.errors import RiskListError
from risklist_server.cli import audit, backup, certs, cluster_policy, init_store, quality
from risklist_server.cli.admin_command import Command, UsageError

COMMANDS: tuple[Command, ...] = (
    certs.COMMAND,
    audit.COMMAND,
    quality.COMMAND,
    init_store.COMMAND,
    backup.BACKUP,
    backup.VERIFY,
    backup.RESTORE,
    cluster_policy.COMMAND,
)
"""Every subcommand; a new one is one line here (its module defines COMMAND)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="risklist-admin",
        description="Operator tools for a risklist network. Exit codes: 0 done, 1 failed, 2 usage.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = subcommands.add_parser(command.name, help=command.help, description=command.description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run, prog=sub.prog)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except UsageError as error:
        print(f"{args.prog}: error: {error}", file=sys.stderr)
        return 2
    except RiskListError as error:
        print(f"{args.prog}: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader (`| head`) had enough: end quietly, and keep the interpreter's final flush
        # of stdout from raising again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        print(f"{args.prog}: error: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
