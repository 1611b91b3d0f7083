"""The server's configuration: built once in the supervisor from the flags, inherited by every worker through fork."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from risklist_kernel.secret import NetworkSecret, load_secret
from risklist_server.audit.trail import default_audit_dir, prepare_audit_dir
from risklist_server.cluster.config import ClusterConfig
from risklist_server.core.policy import Policy
from risklist_server.core.policy_file import load_policy
from risklist_server.core.settings import Settings, load_settings
from risklist_server.process.fd_limit import ADMIN_CONNECTIONS, FdBudget, plan_descriptors
from risklist_server.rpc.access.config import Security, SecurityFiles, load_security

log = structlog.get_logger("risklist.server")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything a risklist-server process needs, its files read and checked once.

    Workers, the first ones and every restart, use these values: they never read the secret or
    settings again. The policy file and the access files (certificates, partners) are watched and
    reloaded by each worker, these values serving while a changed file is broken.
    """

    db: str
    listen: str
    admin_listen: str
    workers: int
    threads: int
    metrics_listen: str | None
    catch_up_seconds: float
    front: str
    """Where the Bloom front screens lookups: "all", "batch" or "off"."""
    grace: float
    log_every_rpc: bool
    """--rpc-log all; else only failed RPCs are logged."""
    audit_dir: str
    """Absolute, created and checked writable."""
    secret: NetworkSecret
    settings: Settings
    policy_path: str | None
    """The policy file each worker watches (None: the built-in policy)."""
    startup_policy: Policy | None
    """The policy file as it was at start: a worker restarted while the file is broken falls back to it."""
    security: Security
    max_streams: int
    """Open streaming calls per worker in all; each worker has this many threads for them besides `threads`."""
    descriptors: FdBudget
    """The open-file limit (raised at start), the reserve kept for the store, the partner port's connection cap."""
    accept_restored_store: bool = False
    """--accept-restored-store: serve a store older than its front file (a deliberate restore)."""
    cluster: ClusterConfig | None = None
    """--cluster and its flags: this node's writes through the network's log (None: a node alone)."""

    @property
    def alone(self) -> bool:
        """One process owns the store and serves both addresses (no separate readers)."""
        return self.workers == 1


def load_config(
    *, db: str, listen: str, admin_listen: str, workers: int, threads: int, metrics_listen: str | None,
    catch_up_ms: int, front: str, grace: float, rpc_log: str, audit_dir: str | None, secret_file: str | None,
    demo: bool, settings_file: str | None, policy_file: str | None, security: SecurityFiles | None,
    max_streams: int = 16, max_connections: int = 4096, fd_reserve: int = 1024, max_open_files: int | None = None,
    accept_restored_store: bool = False, cluster: ClusterConfig | None = None,
) -> ServerConfig:
    """Read and check every file the flags name, once (ConfigError, PolicyError... naming the file at fault);
    raise the open-file limit (workers inherit it) and size each worker's connection cap within it."""
    return ServerConfig(
        db=db, listen=listen, admin_listen=admin_listen, workers=workers, threads=threads,
        metrics_listen=metrics_listen, catch_up_seconds=catch_up_ms / 1000, front=front, grace=grace,
        log_every_rpc=rpc_log == "all",
        secret=_secret(secret_file, demo),
        settings=load_settings(settings_file),
        policy_path=policy_file,
        startup_policy=load_policy(policy_file) if policy_file else None,
        # Created here, once, so a bad directory is one clear error; each worker appends its own segments.
        audit_dir=prepare_audit_dir(audit_dir or default_audit_dir(db)),
        security=load_security(security),
        max_streams=max_streams,
        descriptors=plan_descriptors(wanted_limit=max_open_files, reserve=fd_reserve, max_connections=max_connections,
                                     admin_connections=ADMIN_CONNECTIONS),
        accept_restored_store=accept_restored_store,
        cluster=cluster,
    )


def _secret(secret_file: str | None, demo: bool) -> NetworkSecret:
    if demo:
        log.warning("demo_mode", detail="public demo secret in use; never load real data")
        return NetworkSecret.demo()
    return load_secret(secret_file)
