"""Running the server process: open the store, serve both addresses, stop on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import signal

import structlog

from server.core.digest import Digester
from server.core.identifiers import Normaliser
from server.core.secret import NetworkSecret, load_secret
from server.core.settings import load_settings
from server.core.subject import SubjectResolver
from server.lookup import LookupService
from server.rpc.app import create_admin_server, create_server
from server.store.reads import FrontPolicy
from server.store.risk_store import RiskStore

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})

FRONT_POLICIES = {
    "all": FrontPolicy(single=True, batch=True),
    "batch": FrontPolicy(single=False, batch=True),
    "off": FrontPolicy(single=False, batch=False),
}


def serve(args: argparse.Namespace) -> int:
    """Serve until a stop signal; the caller must have blocked STOP_SIGNALS before any thread."""
    log = structlog.get_logger("risklist.server")
    settings = load_settings(args.config)
    if args.demo:
        secret = NetworkSecret.demo()
        log.warning("demo_mode", detail="public demo secret in use; never load real data")
    else:
        secret = load_secret(args.secret_file)
    store = RiskStore(args.db, secret_fingerprint=secret.fingerprint, front_policy=FRONT_POLICIES[args.front])
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
