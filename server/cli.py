"""`risklist-server`: serve lookups from a store, and the admin ingest call, until SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
FRONT_CHOICES = ("all", "batch", "off")
SECRET_FILE_ENV = "RISKLIST_SECRET_FILE"  # server.core.secret's, named here to keep imports light


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="risklist-server",
        description="Serve risk-list lookups (risklist.v1.RiskList) from a RocksDB store, "
        "and the admin ingest call (risklist.v1.Admin) on a separate address.",
    )
    parser.add_argument("--db", required=True, metavar="PATH", help="store directory (created if missing)")
    parser.add_argument("--secret-file", metavar="FILE",
                        help=f"network secret, hex (default: ${SECRET_FILE_ENV})")
    parser.add_argument("--demo", action="store_true",
                        help="use the public demo secret; for demos only, never for real data")
    parser.add_argument("--listen", default="127.0.0.1:50051", metavar="HOST:PORT",
                        help="partner-facing address (default %(default)s)")
    parser.add_argument("--admin-listen", default="127.0.0.1:50052", metavar="HOST:PORT",
                        help="admin ingest address, keep it private (default %(default)s)")
    parser.add_argument("--config", metavar="FILE", help="settings TOML (docs/operations.md)")
    parser.add_argument("--threads", type=int, default=8, help="RPC worker threads (default %(default)s)")
    parser.add_argument("--front", choices=FRONT_CHOICES, default="all",
                        help="where the Bloom front screens lookups (default %(default)s; "
                        "see benchmarks/RESULTS.md)")
    parser.add_argument("--grace", type=float, default=10.0, metavar="SECONDS",
                        help="how long in-flight RPCs may finish after SIGTERM (default %(default)s)")
    parser.add_argument("--log-format", choices=["json", "console"],
                        help="default: console on a terminal, JSON lines otherwise")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Block the stop signals before anything starts a thread (numpy's import does; RocksDB
    # and grpc do later). Every thread inherits the mask, so SIGTERM stays pending until the
    # main thread's sigwait takes it: never the default action on some library thread, and
    # no Python handler interrupting the main thread inside structlog's print lock (which
    # deadlocked when the handler logged).
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    args = build_parser().parse_args(argv)
    if args.demo and args.secret_file:
        print("risklist-server: error: --demo and --secret-file exclude each other", file=sys.stderr)
        return 2

    from server.core.errors import RiskListError
    from server.logs import configure_logging
    from server.serve import serve

    configure_logging(args.log_format)
    try:
        return serve(args)
    except RiskListError as error:
        print(f"risklist-server: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
