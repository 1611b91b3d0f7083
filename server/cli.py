"""`risklist-server`: serve lookups from a store, and the admin ingest call, until SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

import structlog

from server.core.digest import Digester
from server.core.errors import RiskListError
from server.core.identifiers import Normaliser
from server.core.secret import SECRET_FILE_ENV, NetworkSecret, load_secret
from server.core.settings import load_settings
from server.core.subject import SubjectResolver
from server.logs import configure_logging
from server.lookup import LookupService
from server.rpc.app import create_admin_server, create_server
from server.store.risk_store import FrontPolicy, RiskStore

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}

FRONT_POLICIES = {
    "all": FrontPolicy(single=True, batch=True),
    "batch": FrontPolicy(single=False, batch=True),
    "off": FrontPolicy(single=False, batch=False),
}


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
    parser.add_argument("--front", choices=sorted(FRONT_POLICIES), default="all",
                        help="where the Bloom front screens lookups (default %(default)s; "
                        "see benchmarks/RESULTS.md)")
    parser.add_argument("--grace", type=float, default=10.0, metavar="SECONDS",
                        help="how long in-flight RPCs may finish after SIGTERM (default %(default)s)")
    parser.add_argument("--log-format", choices=["json", "console"],
                        help="default: console on a terminal, JSON lines otherwise")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_format)
    log = structlog.get_logger("risklist.server")
    if args.demo and args.secret_file:
        print("risklist-server: error: --demo and --secret-file exclude each other", file=sys.stderr)
        return 2
    try:
        return _serve(args, log)
    except RiskListError as error:
        print(f"risklist-server: error: {error}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace, log: structlog.typing.FilteringBoundLogger) -> int:
    # Block the stop signals before any thread exists (RocksDB's, grpc's): every thread
    # inherits the mask, so a SIGTERM stays pending until the main thread's sigwait takes it.
    # A Python handler instead may be delivered to a grpc thread while the main thread sleeps
    # in a lock wait that nothing interrupts: the server then ignored SIGTERM now and then.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    settings = load_settings(args.config)
    if args.demo:
        secret = NetworkSecret.demo()
        log.warning("demo_mode", detail="public demo secret in use; never load real data")
    else:
        secret = load_secret(args.secret_file)
    store = RiskStore(args.db, secret_fingerprint=secret.fingerprint,
                      front_policy=FRONT_POLICIES[args.front])
    try:
        resolver = SubjectResolver(Normaliser(settings.default_region), Digester(secret))
        lookup = LookupService(store, resolver, max_batch=settings.max_batch)
        server, port, health = create_server(args.listen, lookup, threads=args.threads)
        admin, admin_port, admin_health = create_admin_server(args.admin_listen, store)
        server.start()
        admin.start()
        log.info("serving", listen=args.listen, port=port, admin_listen=args.admin_listen,
                 admin_port=admin_port, list_version=store.version, front_bytes=store.front.size_bytes,
                 front=args.front, secret_fingerprint=secret.fingerprint)
        received = signal.sigwait(STOP_SIGNALS)
        log.info("stop_requested", signal=signal.Signals(received).name)
        for health_servicer in (health, admin_health):
            health_servicer.enter_graceful_shutdown()
        done = server.stop(args.grace)
        admin_done = admin.stop(args.grace)
        done.wait()
        admin_done.wait()
    finally:
        store.close()
    log.info("stopped", list_version=store.version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
