"""`risklist-admin policy push|show`: the one policy of a cluster, kept beside its write log (docs/cluster.md)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from risklist_server.cli.admin_command import Command, UsageError
from risklist_server.cli.nats_flags import add_nats_auth_arguments, nats_auth_of

if TYPE_CHECKING:
    from risklist_server.cluster.policy_bucket import PolicyBucket
    from risklist_server.cluster.write_log import WriteLog

_CLUSTER_HELP = ("the cluster's NATS servers, nats://HOST:PORT[,nats://HOST:PORT...], as the nodes' --cluster; "
                 "name all of them: any that answers will do")


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster", required=True, metavar="URLS", help=_CLUSTER_HELP)
    parser.add_argument("--timeout", type=float, default=15.0, metavar="SECONDS",
                        help="how long to wait for the NATS servers (default %(default)s)")
    add_nats_auth_arguments(parser)


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    push = actions.add_parser("push", help="check a policy file and put it in force on every node",
                              description="Check FILE exactly as risklist-server reads a policy (docs/policy.md) and "
                              "put it in force in the cluster: every node serves it within seconds, and each verdict "
                              "names its version. A file with a problem is refused, naming its line; nothing changes.")
    push.add_argument("--file", required=True, metavar="FILE", help="the policy TOML file")
    _connection_arguments(push)
    push.set_defaults(run=_push, prog=push.prog)
    show = actions.add_parser("show", help="the policy in force in the cluster",
                              description="Print the version and revision of the policy in force in the cluster "
                              "(with --toml, the file itself).")
    show.add_argument("--toml", action="store_true", help="print the policy file as pushed")
    _connection_arguments(show)
    show.set_defaults(run=_show, prog=show.prog)


def _bucket(args: argparse.Namespace) -> tuple[WriteLog, PolicyBucket]:
    """The cluster's policy bucket over a connection made from the flags (nats imported only here): the one place
    this command connects, with the nodes' NATS credentials (--cluster-ca, --cluster-nkey, ...)."""
    from risklist_server.cluster.config import cluster_servers
    from risklist_server.cluster.policy_bucket import PolicyBucket
    from risklist_server.cluster.write_log import WriteLog
    from risklist_server.process.logs import configure_logging

    # The connection's warnings (one server of three gone) are no news to an operator: the answer says what counts.
    configure_logging("console", level=logging.ERROR)
    log = WriteLog(cluster_servers(args.cluster), connect_timeout_s=args.timeout / 3,
                   auth=nats_auth_of(args)).open(create=False)
    return log, PolicyBucket(log)


def _push(args: argparse.Namespace) -> int:
    """Check the file, then put it in force (exit 0); a bad file or no cluster: exit 1, nothing pushed."""
    from risklist_server.cluster.policy_bucket import checked_policy
    from risklist_server.core.policy_file import read_policy_file

    data = read_policy_file(args.file)
    policy = checked_policy(data, args.file)  # PolicyError: the same message as risklist-server's, exit 1
    log, bucket = _bucket(args)
    with log:
        current = bucket.current(timeout_s=args.timeout)
        if current is not None and current.data == data:
            print(f"{args.file}: already in force in the cluster (version {current.version}, revision "
                  f"{current.revision}); nothing pushed")
            return 0
        pushed = bucket.push(data, timeout_s=args.timeout)
    print(f"{args.file}: pushed as the cluster's policy, version {pushed.version} (revision {pushed.revision}, "
          f"{len(policy.rules)} rule(s)); every node serves it within seconds (its writer logs "
          "cluster_policy_adopted)")
    return 0


def _show(args: argparse.Namespace) -> int:
    """Print the cluster's policy version (or the file with --toml)."""
    log, bucket = _bucket(args)
    with log:
        current = bucket.current(timeout_s=args.timeout)
    if current is None:
        print("no policy pushed: every node serves the built-in policy (version built-in; docs/policy.md)")
    elif args.toml:
        sys.stdout.buffer.write(current.data)
    else:
        print(f"version {current.version} (revision {current.revision}, {len(current.data):,} bytes)")
    return 0


def _no_action(args: argparse.Namespace) -> int:
    raise UsageError("say what to do: push or show")


COMMAND = Command(
    name="policy",
    help="push the cluster's policy, or show it (cluster mode)",
    description="The policy a cluster's nodes serve is kept in the cluster (NATS key-value bucket RISKLIST_POLICY), "
    "not in a file per node: push puts a checked file in force on every node, show prints the one in force.",
    add_arguments=_arguments,
    run=_no_action,
)
