"""What each server process does once forked: the writer (store owner) or a reader worker."""

from __future__ import annotations

import gc
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import grpc
import structlog
from prometheus_client import Gauge

from risklist_server.audit.trail import AuditTrail
from risklist_server.cluster.checkpoint_publisher import CheckpointPublisher
from risklist_server.cluster.expiry_log import LoggedPurge, expiry_calls
from risklist_server.cluster.ingest_log import ingest_calls, logged_loads
from risklist_server.cluster.node import ClusterNode
from risklist_server.cluster.policy_bucket import CLUSTER_ORIGIN
from risklist_server.cluster.policy_follower import cluster_policy_file
from risklist_server.cluster.stream_writes import PinnedClock
from risklist_server.core.errors import StoreError
from risklist_server.process.cluster_health import HealthFollower, node_serving, writer_serving
from risklist_server.process.config import ServerConfig
from risklist_server.process.fd_limit import ADMIN_CONNECTIONS
from risklist_server.process.shedding import ConnectionShedder
from risklist_server.process.supervisor import EXIT_REJOIN
from risklist_server.process.write_path import reader_side, subject_resolver, writer_side
from risklist_server.rpc.access.gate import Gate
from risklist_server.rpc.access.reload import AccessWatch
from risklist_server.rpc.app import ConnectionLimits, create_admin_server, create_server
from risklist_server.rpc.drain import Drain
from risklist_server.rpc.request_waits import RequestWaits
from risklist_server.rpc.service_health import ServiceHealth
from risklist_server.rpc.stream_limits import StreamLimits
from risklist_server.rpc.write_calls import LocalWrites, WriteGateway
from risklist_server.rpc.writer_link import create_writer_link
from risklist_server.services.expiry_sweep import ExpirySweeper
from risklist_server.services.hit_tokens import HitTokens
from risklist_server.services.lookup import LookupService
from risklist_server.services.policy_watch import PolicyWatch
from risklist_server.services.precision import SourcePrecision
from risklist_server.store.filter_export import FilterExport
from risklist_server.store.reads import FrontPolicy, StoreReads
from risklist_server.store.replica import ReplicaStore
from risklist_server.store.risk_store import RiskStore
from risklist_server.store.store_dir import beside_store

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})

FRONT_POLICIES = {
    "all": FrontPolicy(single=True, batch=True),
    "batch": FrontPolicy(single=False, batch=True),
    "off": FrontPolicy(single=False, batch=False),
}

log = structlog.get_logger("risklist.server")

LIST_VERSION = Gauge(
    "risklist_list_version",
    "The list version each server process serves (the writer's: the newest; a reader's: as far as it caught up).",
    ["worker"],
    multiprocess_mode="livemax",
)
CAUGHT_UP = Gauge(
    "risklist_reader_caught_up_timestamp_seconds",
    "Unix time of each reader's last successful catch-up with the writer (lag: time() minus this).",
    ["worker"],
    multiprocess_mode="livemax",
)
WRITER_VERSION_SECONDS = 0.1
"""How often the writer publishes its list version (readers publish theirs at every catch-up)."""
FRONT_PUBLISH_KEYS = 100_000
"""Keys added since the front file was published that make the writer publish it again: each reader
holds them in a private overlay (~50 bytes a key) until it maps the new file."""
FRONT_PUBLISH_SECONDS = 300.0
"""The longest a key added since the last publication waits for the next one (the overlay answers meanwhile)."""
FRONT_CHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class ReaderPlan:
    """A reader worker's place in the group: its number, the shared address, its secondary dir."""

    index: int
    listen: str
    secondary_dir: str
    catch_up_seconds: float
    run_dir: str
    """The supervisor's private (0700) directory holding the writer link's socket."""


def _lookup_service(config: ServerConfig, store: StoreReads, run_dir: str) -> LookupService:
    settings = config.settings
    resolver = subject_resolver(settings, config.secret)
    policy = _policy_watch(config, run_dir).start()  # a daemon thread
    precision = SourcePrecision(store, min_outcomes=settings.precision_min_outcomes)
    return LookupService(store, resolver, max_batch=settings.max_batch, policy=lambda: policy.current,
                         precision=precision.precision)


def _policy_watch(config: ServerConfig, run_dir: str) -> PolicyWatch:
    """The policy file this process follows: --policy's, or a cluster node's copy of the cluster's policy (kept by
    its writer in `run_dir`; absent while none was pushed: the built-in policy)."""
    if config.cluster is not None:
        return PolicyWatch(cluster_policy_file(run_dir), optional=True, origin=CLUSTER_ORIGIN)
    return PolicyWatch(config.policy_path, fallback=config.startup_policy)


def _gate(config: ServerConfig, cleanup: ExitStack) -> Gate:
    """The process's gate, its certificates and members reloaded when their files change (a daemon thread)."""
    gate = Gate(config.security)
    cleanup.callback(AccessWatch(gate).start().stop)
    return gate


def _filter_export(config: ServerConfig, store: StoreReads) -> FilterExport:
    settings = config.settings
    return FilterExport(store, bits_per_key=settings.filter_bits_per_key, max_removed=settings.filter_max_removed,
                        secret_fingerprint=config.secret.fingerprint, list_id=store.list_id,
                        log_versions=config.cluster is not None)


def _connections(config: ServerConfig, max_connections: int) -> ConnectionLimits:
    return ConnectionLimits(config.settings.handshake_timeout_seconds, max_connections)


def _partner_connections(config: ServerConfig) -> ConnectionLimits:
    """The partner port's cap: what the open-file limit leaves after the store's reserve (process/fd_limit.py)."""
    return _connections(config, config.descriptors.max_connections)


def _stream_limits(config: ServerConfig) -> StreamLimits:
    settings = config.settings
    return StreamLimits(per_member=min(settings.max_streams_per_member, config.max_streams), total=config.max_streams,
                        idle_seconds=settings.stream_idle_seconds)


def _request_waits(config: ServerConfig, gate: Gate) -> RequestWaits:
    """Calls waiting for their request message: each member's share, half the worker's RPC threads in all."""
    settings = config.settings
    return RequestWaits(lambda context: gate.caller(context).partner,
                        per_member=settings.max_slow_requests_per_member, total=max(1, config.threads // 2),
                        limit_seconds=settings.request_wait_seconds)


def _report_ready(ready_fd: int, **ports: int) -> None:
    os.write(ready_fd, json.dumps(ports).encode() + b"\n")
    os.close(ready_fd)


def run_writer(config: ServerConfig, ready_fd: int, *, admin_listen: str, listen: str | None, run_dir: str) -> int:
    """Own the store: serve Admin.Ingest (and RiskList on `listen`, as the only worker; else the
    writer link for the readers' write calls) and sweep expired contributions, until SIGTERM."""
    secret = config.secret
    with ExitStack() as cleanup:  # whatever was opened is closed, also when start-up fails half-way
        gate = _gate(config, cleanup)  # one for both servers: they share the callers' quota buckets
        audit = AuditTrail(config.audit_dir, "writer")
        cleanup.callback(audit.close)
        drain = Drain()  # both servers' calls in flight: all audited before the audit closes
        store = RiskStore(config.db, secret_fingerprint=secret.fingerprint, front_policy=FRONT_POLICIES[config.front],
                          accept_restored=config.accept_restored_store)
        cleanup.callback(store.close)
        # A cluster node's write calls run as its log applier applies them, on the entry's time (its clock pinned).
        pinned = PinnedClock() if config.cluster is not None else None
        rejoin = RejoinRequest()
        node: ClusterNode | None = None
        if config.cluster is not None and pinned is not None:
            # Joined first: the cluster's policy is in the run directory before any process loads it.
            node = ClusterNode(config.cluster, store, pinned, network=secret.fingerprint, on_gap=rejoin.request)
            cleanup.callback(node.close)
            node.connect(cluster_policy_file(run_dir))
        lookup = _lookup_service(config, store, run_dir)
        side = writer_side(config.settings, store, secret, lookup.verdict, clock=pinned or time.time)
        writes: WriteGateway = LocalWrites(side.calls)
        if node is not None and pinned is not None:
            node.start({**side.calls, **ingest_calls(store, pinned), **expiry_calls(store, pinned)})
            writes = node
        # Readers start from this file and catch up through the changelog.
        store.persist_front()
        sweeper = side.sweeper if node is None or config.cluster is None else ExpirySweeper(
            store, interval=config.settings.expiry_sweep_interval_seconds,
            slice_size=config.settings.expiry_sweep_slice,
            max_purged_fraction=config.settings.expiry_max_purged_fraction_per_hour,
            # A cluster's purges go through its log, driven by a node whose clock agrees with the NATS servers'.
            purge=LoggedPurge(store, node, node, config.cluster.node_id, clock_problem=lambda: node.clock_problem))
        sweeper.start()
        cleanup.callback(sweeper.stop)
        if node is not None and node.config.checkpoint_interval_s > 0:
            checkpoints = CheckpointPublisher(store, node, node.checkpoints(), node_id=node.config.node_id,
                                              interval_s=node.config.checkpoint_interval_s,
                                              work_dir=beside_store(config.db, "checkpoint-publish"))
            cleanup.callback(checkpoints.start().stop)
        side.trimmer.start()
        cleanup.callback(side.trimmer.stop)
        servers: list[tuple[grpc.Server, ServiceHealth]] = []
        ports: dict[str, int] = {}
        if listen is not None:
            server, ports["port"], health = create_server(
                listen, lookup, threads=config.threads,
                log_every_rpc=config.log_every_rpc, writes=writes, entries=side.entries,
                audit=audit, gate=gate, filters=_filter_export(config, store), connections=_partner_connections(config),
                streams=_stream_limits(config), tokens=HitTokens(store.outcome_key), drain=drain,
                request_waits=_request_waits(config, gate))
            servers.append((server, health))
            _shed_connections(config, ports["port"], gate, cleanup)
        else:
            servers.append(create_writer_link(run_dir, side.calls, lambda: store.version, gateway=writes))
        admin, ports["admin_port"], admin_health = create_admin_server(
            admin_listen, store, audit=audit, gate=gate, max_batch=config.settings.max_batch,
            connections=_connections(config, ADMIN_CONNECTIONS), drain=drain,
            loads=None if node is None else logged_loads(node))
        servers.append((admin, admin_health))
        if node is not None:
            healths = [health for _, health in servers]
            cleanup.callback(HealthFollower("writer", node_serving(node), healths).start().stop)
        stop_publishing = threading.Event()
        publisher = threading.Thread(target=_publish_writer_version, args=(store, stop_publishing),
                                     name="list-version", daemon=True)
        publisher.start()
        cleanup.callback(_stop_following, publisher, stop_publishing)
        front_publisher = threading.Thread(target=_publish_front, args=(store, stop_publishing),
                                           name="front-publisher", daemon=True)
        front_publisher.start()
        cleanup.callback(_stop_following, front_publisher, stop_publishing)
        _serve_until_stopped(servers, config.grace, drain, lambda: _report_ready(ready_fd, **ports),
                             list_version=store.version, front_bytes=store.front.size_bytes, **ports)
    log.info("worker_stopped", list_version=store.version)
    return EXIT_REJOIN if rejoin.requested else 0


class RejoinRequest:
    """A cluster node's writer asked to stop so the node restores the cluster's checkpoint (EXIT_REJOIN)."""

    def __init__(self) -> None:
        self.requested = False

    def request(self) -> None:
        """Stop this writer as SIGTERM does; it then exits with EXIT_REJOIN."""
        log.warning("log_gap_rejoin", detail="the log no longer holds the entry this node needs next: stopping to "
                    "restore the cluster's latest checkpoint")
        self.requested = True
        os.kill(os.getpid(), signal.SIGTERM)


def run_reader(config: ServerConfig, ready_fd: int, plan: ReaderPlan) -> int:
    """Serve RiskList from a read replica on the shared port, catching up every few milliseconds."""
    secret = config.secret
    with ExitStack() as cleanup:  # whatever was opened is closed, also when start-up fails half-way
        store = ReplicaStore(config.db, plan.secondary_dir, secret_fingerprint=secret.fingerprint,
                             front_policy=FRONT_POLICIES[config.front])
        cleanup.callback(store.close)
        audit = AuditTrail(config.audit_dir, f"reader-{plan.index}")
        cleanup.callback(audit.close)
        drain = Drain()
        gate = _gate(config, cleanup)
        lookup = _lookup_service(config, store, plan.run_dir)
        side = reader_side(config.settings, store, secret, plan.run_dir, lookup.verdict)
        cleanup.callback(side.writes.close)
        server, port, health = create_server(plan.listen, lookup,
                                             threads=config.threads, reuse_port=True,
                                             log_every_rpc=config.log_every_rpc,
                                             writes=side.writes, entries=side.entries, audit=audit,
                                             gate=gate, filters=_filter_export(config, store),
                                             connections=_partner_connections(config), streams=_stream_limits(config),
                                             tokens=HitTokens(store.outcome_key), drain=drain,
                                             request_waits=_request_waits(config, gate))
        _shed_connections(config, port, gate, cleanup)
        if config.cluster is not None:  # this reader's records are the writer's: serving while the writer is
            cleanup.callback(HealthFollower(f"reader-{plan.index}",
                                            writer_serving(side.writes.writer_serving, config.cluster.max_lag_s),
                                            [health]).start().stop)
        stop_catching_up = threading.Event()
        follower = threading.Thread(target=_follow_writer,
                                    args=(store, plan.catch_up_seconds, stop_catching_up, f"reader-{plan.index}"),
                                    name="catch-up", daemon=True)
        follower.start()
        cleanup.callback(_stop_following, follower, stop_catching_up)
        _serve_until_stopped([(server, health)], config.grace, drain, lambda: _report_ready(ready_fd, port=port),
                             port=port, list_version=store.version, front_bytes=store.front.size_bytes)
    log.info("worker_stopped", list_version=store.version)
    return 0


def _shed_connections(config: ServerConfig, port: int, gate: Gate, cleanup: ExitStack) -> None:
    """Keep room under the partner port's connection cap: strangers' oldest connections go first."""
    shedder = ConnectionShedder(port, config.descriptors.max_connections, gate.peers).start()
    cleanup.callback(shedder.stop)


def _stop_following(follower: threading.Thread, stop: threading.Event) -> None:
    stop.set()
    follower.join()


def _publish_writer_version(store: RiskStore, stop: threading.Event) -> None:
    version = LIST_VERSION.labels("writer")
    while True:
        version.set(store.version)
        if stop.wait(WRITER_VERSION_SECONDS):
            return


def _publish_front(store: RiskStore, stop: threading.Event) -> None:
    """Re-publish the front file for the readers once FRONT_PUBLISH_KEYS keys, or any key FRONT_PUBLISH_SECONDS
    old, are not in it, or at once when it was replaced or damaged; a failure (a full disk) is logged once and
    retried, the readers' overlays (or RocksDB, for a refused file) answer meanwhile."""
    last = time.monotonic()
    failing = False
    while not stop.wait(FRONT_CHECK_SECONDS):
        try:
            store.check_front_file()  # replaced or damaged by hand: published again at once
            pending = store.unpublished_keys()
            if pending < FRONT_PUBLISH_KEYS and (pending == 0 or time.monotonic() - last < FRONT_PUBLISH_SECONDS):
                continue
            store.persist_front()
        except StoreError as error:
            if not failing:
                log.error("front_publish_failed", error=str(error))
            failing = True
        else:
            last, failing = time.monotonic(), False


def _follow_writer(store: ReplicaStore, interval: float, stop: threading.Event, worker: str) -> None:
    version, caught_up = LIST_VERSION.labels(worker), CAUGHT_UP.labels(worker)
    version.set(store.version)
    caught_up.set_to_current_time()
    failing = False
    while not stop.wait(interval):
        try:
            version.set(store.catch_up())
        except Exception as error:  # keep serving the last good view; say so once per outage
            if not failing:
                log.error("catch_up_failed", error=str(error))
            failing = True
        else:
            caught_up.set_to_current_time()
            if failing:
                log.info("catch_up_recovered", list_version=store.version)
            failing = False


def _serve_until_stopped(
    servers: list[tuple[grpc.Server, ServiceHealth]], grace: float, drain: Drain, on_ready: Callable[[], None],
    **fields: object,
) -> None:
    """Serve until SIGTERM/SIGINT; then drain: calls in flight get `grace` s, grpc cancels those left, and their
    handlers get a few more seconds (drain.finish) before the ones still running are audited as cut off. The
    caller closes the audit trail afterwards, after the last record."""
    for server, _ in servers:
        server.start()
    # Everything loaded so far (grpc, protobuf, numpy: ~40k objects) lives as long as the
    # process; frozen, a full collection no longer walks it (11 ms each time, a p99 spike).
    gc.collect()
    gc.freeze()
    log.info("worker_serving", **fields)
    on_ready()
    received = signal.sigwait(STOP_SIGNALS)
    log.info("worker_stop_requested", signal=signal.Signals(received).name)
    for _, health in servers:
        health.enter_graceful_shutdown()
    drain.stopping(grace)  # before grpc's clock starts: a call it cancels ends after this deadline
    stopping = [server.stop(grace) for server, _ in servers]
    for done in stopping:
        done.wait()
    drain.finish()
