"""Running risklist-server: the supervisor's plan of processes, ports and metrics, until SIGTERM."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile

import structlog

from risklist_kernel.secret import NetworkSecret, load_secret
from risklist_server.audit.trail import default_audit_dir, prepare_audit_dir
from risklist_server.core.policy_file import load_policy
from risklist_server.process.metrics_endpoint import MetricsEndpoint, start_metrics_endpoint
from risklist_server.process.ports import reserve_shared_port, with_port
from risklist_server.process.supervisor import Child, StartupFailed, StopRequested, Supervisor
from risklist_server.rpc.access.config import Security, describe_security, load_security

log = structlog.get_logger("risklist.server")


def serve(args: argparse.Namespace) -> int:
    """Serve until a stop signal; the caller must have blocked SIGTERM, SIGINT and SIGCHLD first.

    One worker: one process owns the store and serves both addresses. N workers: a writer
    process owns the store and serves the admin address; N reader processes share the
    partner address (SO_REUSEPORT) and follow the writer as RocksDB secondaries.
    """
    secret = _secret(args)
    # Checked here once: a broken policy file is a start-up error. Workers inherit it through
    # fork and fall back to it if the file is broken when one of them is restarted.
    args.startup_policy = load_policy(args.policy) if args.policy else None
    # Created here, once, so a bad directory is one clear error; each worker appends its own segments.
    args.audit_dir = prepare_audit_dir(args.audit_dir or default_audit_dir(args.db))
    security = load_security(args)
    holder: socket.socket | None = None
    metrics: MetricsEndpoint | None = None
    replicas = tempfile.mkdtemp(prefix="risklist-replicas-")
    run_dir = tempfile.mkdtemp(prefix="risklist-run-")  # mode 0700: the writer link's socket lives here
    supervisor: Supervisor | None = None
    try:
        listen = args.listen
        if args.workers > 1:
            holder, listen = reserve_shared_port(args.listen)
        if args.metrics_listen:
            metrics = start_metrics_endpoint(args.metrics_listen)
        supervisor = Supervisor(grace=args.grace, on_exit=metrics.process_exited if metrics else lambda _: None)
        addresses = {"listen": listen, "admin_listen": args.admin_listen}
        writer, readers = _plan(args, addresses, replicas, run_dir, security)
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
        addresses["admin_listen"] = with_port(args.admin_listen, writer.ports["admin_port"])
        log.info("serving", listen=listen, port=port, admin_listen=args.admin_listen,
                 admin_port=writer.ports["admin_port"], metrics_port=metrics.port if metrics else None,
                 workers=args.workers, pids={child.name: child.pid for child in supervisor.children},
                 front=args.front, secret_fingerprint=secret.fingerprint, audit_dir=args.audit_dir,
                 **describe_security(security))
        code = supervisor.run_until_stopped()
    finally:
        if holder is not None:
            holder.close()
        if metrics is not None:
            metrics.close()
        shutil.rmtree(replicas, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    log.info("stopped", exit_code=code)
    return code


def _secret(args: argparse.Namespace) -> NetworkSecret:
    """Checked here once, so a bad secret file is one clear error rather than one per process."""
    if args.demo:
        log.warning("demo_mode", detail="public demo secret in use; never load real data")
        return NetworkSecret.demo()
    return load_secret(args.secret_file)


def _plan(
    args: argparse.Namespace, addresses: dict[str, str], replicas: str, run_dir: str, security: Security
) -> tuple[Child, list[Child]]:
    alone = args.workers == 1

    def writer_main(ready_fd: int) -> int:
        from risklist_server.process.logs import set_process_fields
        from risklist_server.process.workers import run_writer

        set_process_fields(worker="writer", pid=os.getpid())
        return run_writer(args, ready_fd, admin_listen=addresses["admin_listen"],
                          listen=addresses["listen"] if alone else None, run_dir=run_dir, security=security)

    def reader_main(index: int) -> Child:
        def main(ready_fd: int) -> int:
            from risklist_server.process.logs import set_process_fields
            from risklist_server.process.workers import ReaderPlan, run_reader

            set_process_fields(worker=f"reader-{index}", pid=os.getpid())
            secondary = os.path.join(replicas, f"reader-{index}")
            shutil.rmtree(secondary, ignore_errors=True)  # a restarted reader starts afresh
            return run_reader(args, ready_fd, ReaderPlan(index, addresses["listen"], secondary,
                                                           args.catch_up_ms / 1000, run_dir), security=security)

        return Child(f"reader-{index}", main)

    readers = [] if alone else [reader_main(index) for index in range(1, args.workers + 1)]
    return Child("writer", writer_main), readers

