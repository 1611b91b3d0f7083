"""`python -m risklist_server.cli.policy_check FILE`: check a policy file before deploying it (exit 0/1/2)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from risklist_server.core.errors import PolicyError
from risklist_server.core.policy_file import load_policy


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m risklist_server.cli.policy_check",
                                     description="Check a risklist policy file (docs/policy.md) without a server.")
    parser.add_argument("file", help="the policy TOML file")
    args = parser.parse_args(argv)
    try:
        policy = load_policy(args.file)
    except PolicyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{policy.origin}: good, version {policy.version}, {len(policy.rules)} rule(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
