"""Running risklist-server: the supervisor's plan of processes, ports and metrics, until SIGTERM."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable

import structlog

from risklist_server.core.errors import ConfigError
from risklist_server.core.link_socket import link_socket_problem
from risklist_server.process.config import ServerConfig
from risklist_server.process.metrics_endpoint import MetricsEndpoint, start_metrics_endpoint
from risklist_server.process.node_store import prepare_node_store
from risklist_server.process.ports import reserve_shared_port, with_port
from risklist_server.process.run_dirs import make_run_dir, remove_abandoned_run_dirs
from risklist_server.process.supervisor import EXIT_REJOIN, Child, StartupFailed, StopRequested, Supervisor
from risklist_server.rpc.access.config import describe_security
from risklist_server.store.store_dir import check_store_dir

log = structlog.get_logger("risklist.server")


def serve(config: ServerConfig) -> int:
    """Serve until a stop signal; the caller must have blocked SIGTERM, SIGINT and SIGCHLD first.

    One worker: one process owns the store and serves both addresses. N workers: a writer
    process owns the store and serves the admin address; N reader processes share the
    partner address (SO_REUSEPORT) and follow the writer as RocksDB secondaries.
    Every process gets `config` as it was built, through fork.
    """
    if config.cluster is not None:  # a new or wiped node's store comes from the cluster's checkpoint (or is new)
        prepare_node_store(config)
    check_store_dir(config.db)  # the server never creates a store: a missing or partial one is one line, exit 1
    holder: socket.socket | None = None
    metrics: MetricsEndpoint | None = None
    remove_abandoned_run_dirs()  # what a supervisor killed with -9 left behind
    replicas = make_run_dir("risklist-replicas-")
    run_dir = make_run_dir("risklist-run-")  # mode 0700: the writer link's socket lives here
    supervisor: Supervisor | None = None
    try:
        problem = None if config.alone else link_socket_problem(run_dir)
        if problem is not None:
            raise ConfigError(problem)
        listen = config.listen
        if not config.alone:
            holder, listen = reserve_shared_port(config.listen)
        if config.metrics_listen:
            metrics = start_metrics_endpoint(config.metrics_listen)
        addresses = {"listen": listen, "admin_listen": config.admin_listen}
        while True:
            supervisor = Supervisor(grace=config.grace, on_exit=metrics.process_exited if metrics else lambda _: None)
            writer, readers = _plan(config, addresses, replicas, run_dir)
            try:
                supervisor.start([[writer], readers])
            except (StartupFailed, StopRequested) as error:
                supervisor.stop()
                if isinstance(error, StopRequested):
                    return 0
                raise
            port = readers[0].ports["port"] if readers else writer.ports["port"]
            # A restarted process binds the ports first bound, even where port 0 was asked for.
            addresses["listen"] = with_port(addresses["listen"], port)
            addresses["admin_listen"] = with_port(config.admin_listen, writer.ports["admin_port"])
            if metrics is not None:
                partner_workers = readers or [writer]
                metrics.watch_connections(_live_pids(partner_workers), port, config.descriptors.max_connections)
            log.info("serving", listen=listen, port=port, admin_listen=config.admin_listen,
                     admin_port=writer.ports["admin_port"], metrics_port=metrics.port if metrics else None,
                     workers=config.workers, pids={child.name: child.pid for child in supervisor.children},
                     front=config.front, secret_fingerprint=config.secret.fingerprint, audit_dir=config.audit_dir,
                     cluster=list(config.cluster.servers) if config.cluster else None, **_node_field(config),
                     **(config.cluster.auth.describe() if config.cluster else {}),
                     **describe_security(config.security))
            code = supervisor.run_until_stopped()
            if code != EXIT_REJOIN or config.cluster is None:
                break
            # The writer found its next log entry gone (behind the log's retention): every process stopped; the
            # node restores the cluster's checkpoint, as at a start, and serves again on the same ports.
            log.warning("node_rejoining")
            prepare_node_store(config)
    finally:
        if holder is not None:
            holder.close()
        if metrics is not None:
            metrics.close()
        shutil.rmtree(replicas, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    log.info("stopped", exit_code=code)
    return code


def _live_pids(children: list[Child]) -> Callable[[], list[tuple[str, int]]]:
    """The (name, pid) of each of `children` running now, asked each time."""
    return lambda: [(child.name, child.pid) for child in children if child.pid]


def _node_field(config: ServerConfig) -> dict[str, str]:
    """A cluster node's processes name the node in every log line."""
    return {} if config.cluster is None else {"node": config.cluster.node_id}


def _plan(config: ServerConfig, addresses: dict[str, str], replicas: str, run_dir: str) -> tuple[Child, list[Child]]:

    def writer_main(ready_fd: int) -> int:
        from risklist_server.process.handshake_log import HandshakeLog
        from risklist_server.process.logs import set_process_fields
        from risklist_server.process.workers import run_writer

        set_process_fields(worker="writer", pid=os.getpid(), **_node_field(config))
        relay = HandshakeLog().start()  # counts grpc's failed-handshake lines on the way to stderr
        try:
            return run_writer(config, ready_fd, admin_listen=addresses["admin_listen"],
                              listen=addresses["listen"] if config.alone else None, run_dir=run_dir)
        finally:
            relay.stop()

    def reader_main(index: int) -> Child:
        def main(ready_fd: int) -> int:
            from risklist_server.process.handshake_log import HandshakeLog
            from risklist_server.process.logs import set_process_fields
            from risklist_server.process.workers import ReaderPlan, run_reader

            set_process_fields(worker=f"reader-{index}", pid=os.getpid(), **_node_field(config))
            secondary = os.path.join(replicas, f"reader-{index}")
            shutil.rmtree(secondary, ignore_errors=True)  # a restarted reader starts afresh
            relay = HandshakeLog().start()  # counts grpc's failed-handshake lines on the way to stderr
            try:
                return run_reader(config, ready_fd, ReaderPlan(index, addresses["listen"], secondary,
                                                               config.catch_up_seconds, run_dir))
            finally:
                relay.stop()

        return Child(f"reader-{index}", main)

    readers = [] if config.alone else [reader_main(index) for index in range(1, config.workers + 1)]
    return Child("writer", writer_main), readers

