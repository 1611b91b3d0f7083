"""`risklist-server`: serve lookups from a store, and the admin ingest call, until SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from risklist_kernel.secret import SECRET_FILE_ENV
from risklist_server.cli.nats_flags import NATS_AUTH_FLAGS, add_nats_auth_arguments, nats_auth_of
from risklist_server.cli.security_flags import add_security_arguments, security_files, security_usage_problem

if TYPE_CHECKING:
    from risklist_server.cluster.config import ClusterConfig

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
SUPERVISOR_SIGNALS = STOP_SIGNALS | {signal.SIGCHLD}
FRONT_CHOICES = ("all", "batch", "off")
RPC_LOG_CHOICES = ("all", "failures")
CLUSTER_ONLY_FLAGS = ("--node-id", *NATS_AUTH_FLAGS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="risklist-server",
        description="Serve risk-list lookups (risklist.v1.RiskList) from a RocksDB store, "
        "and the admin ingest call (risklist.v1.Admin) on a separate address.",
    )
    parser.add_argument("--db", required=True, metavar="PATH",
                        help="store directory, made by risklist-load --db or risklist-admin init-store "
                        "(never created here)")
    parser.add_argument("--accept-restored-store", action="store_true",
                        help="serve a store older than its own front file says it reached: only after "
                        "restoring an older copy on purpose (docs/operations.md)")
    parser.add_argument("--secret-file", metavar="FILE",
                        help=f"network secret, hex (default: ${SECRET_FILE_ENV})")
    parser.add_argument("--demo", action="store_true",
                        help="use the public demo secret; for demos only, never for real data")
    parser.add_argument("--audit-dir", metavar="DIR",
                        help="where each worker appends its audit segments (created if missing; "
                        "default: DB-audit beside the store; docs/operations.md)")
    parser.add_argument("--listen", default="127.0.0.1:50051", metavar="HOST:PORT",
                        help="partner-facing address (default %(default)s)")
    parser.add_argument("--admin-listen", default="127.0.0.1:50052", metavar="HOST:PORT",
                        help="admin ingest address, keep it private (default %(default)s)")
    parser.add_argument("--config", metavar="FILE", help="settings TOML (docs/operations.md)")
    parser.add_argument("--policy", metavar="FILE",
                        help="policy TOML mapping verdicts to ALLOW/REVIEW/BLOCK, reloaded when it changes "
                        "(docs/policy.md; default: the built-in policy); not with --cluster, whose nodes serve the "
                        "policy pushed with risklist-admin policy push")
    parser.add_argument("--workers", type=_positive, default=os.cpu_count() or 1, metavar="N",
                        help="processes serving lookups on --listen (default: CPU count, %(default)s); "
                        "with more than one, a separate writer process owns the store")
    parser.add_argument("--threads", type=_positive, default=8, help="RPC threads per worker (default %(default)s)")
    parser.add_argument("--max-streams", type=_positive, default=16, metavar="N",
                        help="open streaming calls per worker in all, each on a thread of its own besides --threads "
                        "(default %(default)s; per member: max_streams_per_member in --config)")
    parser.add_argument("--max-connections", type=_positive, default=4096, metavar="N",
                        help="client connections per worker; fewer if the open-file limit minus --fd-reserve "
                        "is lower (default %(default)s)")
    parser.add_argument("--fd-reserve", type=_positive, default=1024, metavar="N",
                        help="file descriptors per worker kept free of connections, for the store and logs "
                        "(default %(default)s)")
    parser.add_argument("--max-open-files", type=_positive, metavar="N",
                        help="raise the open-file limit to N at start (default: as far as the hard limit allows)")
    parser.add_argument("--metrics-listen", metavar="HOST:PORT",
                        help="serve Prometheus metrics of all workers at http://HOST:PORT/metrics (default: off)")
    parser.add_argument("--catch-up-ms", type=_positive, default=10, metavar="MS",
                        help="how often reader workers look for the writer's new writes (default %(default)s)")
    parser.add_argument("--front", choices=FRONT_CHOICES, default="all",
                        help="where the Bloom front screens lookups (default %(default)s; "
                        "see benchmarks/RESULTS.md)")
    parser.add_argument("--grace", type=float, default=10.0, metavar="SECONDS",
                        help="how long in-flight RPCs may finish after SIGTERM (default %(default)s)")
    parser.add_argument("--rpc-log", choices=RPC_LOG_CHOICES, default="failures",
                        help="log a line per RPC, or only per failed one (default %(default)s; "
                        "--metrics-listen counts them all)")
    parser.add_argument("--log-format", choices=["json", "console"],
                        help="default: console on a terminal, JSON lines otherwise")
    cluster = parser.add_argument_group("cluster mode (docs/cluster.md)")
    cluster.add_argument("--cluster", metavar="URLS",
                         help="join a cluster: its NATS JetStream servers, nats://HOST:PORT[,nats://HOST:PORT...]; "
                         "Report and Revoke then go through the network's write log (default: a node alone)")
    cluster.add_argument("--node-id", metavar="ID", help="this node's name in the cluster (with --cluster)")
    cluster.add_argument("--max-lag", type=float, default=5.0, metavar="SECONDS",
                         help="report NOT_SERVING on grpc health while this far behind the log (default %(default)s)")
    cluster.add_argument("--log-replicas", type=_positive, default=3, metavar="N",
                         help="NATS servers holding each write, if this node creates the log (default %(default)s)")
    cluster.add_argument("--log-max-bytes", default="64G", metavar="SIZE",
                         help="the write log's size bound, if this node creates it; its oldest writes go beyond it "
                         "(default %(default)s; docs/cluster.md)")
    cluster.add_argument("--checkpoint-interval", type=float, default=3600.0, metavar="SECONDS",
                         help="how often the node holding the cluster's checkpoint lease publishes a checkpoint new "
                         "and wiped nodes restore; 0: this node never publishes (default %(default)s)")
    add_nats_auth_arguments(cluster)
    add_security_arguments(parser)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    # Block the stop signals before anything starts a thread (numpy's import does; RocksDB
    # and grpc do later). Every thread inherits the mask, so SIGTERM stays pending until the
    # main thread's sigwait takes it: never the default action on some library thread, and
    # no Python handler interrupting the main thread inside structlog's print lock (which
    # deadlocked when the handler logged).
    # SIGCHLD too: the supervisor takes it with sigtimedwait to notice a worker that died.
    signal.pthread_sigmask(signal.SIG_BLOCK, SUPERVISOR_SIGNALS)
    # The store, its front, the audit trail and the run directories hold members' data: owner only.
    os.umask(0o077)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.demo and args.secret_file:
        print("risklist-server: error: --demo and --secret-file exclude each other", file=sys.stderr)
        return 2
    problem = security_usage_problem(args)
    if problem is not None:
        parser.print_usage(sys.stderr)
        print(f"risklist-server: error: {problem}", file=sys.stderr)
        return 2

    from risklist_kernel.errors import RiskListError
    from risklist_server.process.config import load_config
    from risklist_server.process.logs import configure_logging
    from risklist_server.process.serve import serve

    configure_logging(args.log_format)
    try:
        # Every file read here, once, before any worker starts: a bad one is one error, exit 1.
        config = load_config(
            db=args.db, listen=args.listen, admin_listen=args.admin_listen, workers=args.workers,
            threads=args.threads, metrics_listen=args.metrics_listen, catch_up_ms=args.catch_up_ms, front=args.front,
            grace=args.grace, rpc_log=args.rpc_log, audit_dir=args.audit_dir, secret_file=args.secret_file,
            demo=args.demo, settings_file=args.config, policy_file=args.policy, security=security_files(args),
            max_streams=args.max_streams, max_connections=args.max_connections, fd_reserve=args.fd_reserve,
            max_open_files=args.max_open_files, accept_restored_store=args.accept_restored_store,
            cluster=_cluster(args))
        return serve(config)
    except RiskListError as error:
        print(f"risklist-server: error: {error}", file=sys.stderr)
        return 1

def _cluster(args: argparse.Namespace) -> ClusterConfig | None:
    """The cluster flags, checked (ConfigError), or None without --cluster (then the others must be absent)."""
    from risklist_server.cluster.config import cluster_config
    from risklist_server.core.errors import ConfigError

    if args.cluster is None:
        given = [flag for flag in CLUSTER_ONLY_FLAGS if getattr(args, flag[2:].replace("-", "_")) is not None]
        if given:
            one = len(given) == 1
            raise ConfigError(f"{', '.join(given)} {'is' if one else 'are'} for a cluster node: give --cluster too, "
                              f"or drop {'it' if one else 'them'}")
        return None
    if args.policy is not None:
        raise ConfigError("--policy is for a node alone: a cluster's nodes serve the policy pushed to the cluster "
                          "with risklist-admin policy push --cluster URLS --file FILE (docs/cluster.md); drop --policy")
    config = cluster_config(args.cluster, args.node_id, max_lag_s=args.max_lag, replicas=args.log_replicas,
                            log_max_bytes=args.log_max_bytes, checkpoint_interval_s=args.checkpoint_interval)
    return dataclasses.replace(config, auth=nats_auth_of(args))


if __name__ == "__main__":
    sys.exit(main())
