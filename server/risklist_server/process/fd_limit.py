"""The open-file limit raised at start, and the connection cap that keeps a reserve of descriptors for the store."""

from __future__ import annotations

import resource
from dataclasses import dataclass

import structlog

from risklist_server.core.errors import ConfigError

log = structlog.get_logger("risklist.server")

CEILING = 1 << 20
"""The most the soft limit is raised to when the hard limit is unlimited (Linux's default nr_open)."""

ADMIN_CONNECTIONS = 64
"""Connections the operator's admin port accepts at once, counted inside each process's budget."""

MIN_CONNECTIONS = 16
"""Fewer connections than this per worker is no service: refuse to start instead."""


@dataclass(frozen=True, slots=True)
class FdBudget:
    """A worker's descriptors: the open-file limit, the reserve kept for RocksDB, the audit trail and logs,
    and how many client connections its partner port may hold."""

    limit: int
    reserve: int
    max_connections: int


def raise_open_file_limit(wanted: int | None = None) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (or to `wanted`, if lower); return (old, new).

    Workers are forked after this, so they inherit it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = CEILING if hard == resource.RLIM_INFINITY else hard
    target = ceiling if wanted is None else min(wanted, ceiling)
    if target != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as error:
            log.warning("open_file_limit_not_raised", soft=soft, hard=hard, wanted=target, error=str(error))
            return soft, soft
    return soft, target


def budget(limit: int, *, reserve: int, max_connections: int, admin_connections: int) -> FdBudget:
    """The partner port's connection cap: `max_connections`, or fewer, so `reserve` descriptors (and the admin
    port's `admin_connections`) always stay free for the store; ConfigError when too few would be left."""
    available = limit - reserve - admin_connections
    if available < MIN_CONNECTIONS:
        raise ConfigError(
            f"the open-file limit is {limit}: after the reserve of {reserve} descriptors for the store "
            f"(--fd-reserve) and {admin_connections} for the admin port, fewer than {MIN_CONNECTIONS} are left for "
            "client connections; raise the hard limit (ulimit -Hn, LimitNOFILE= in the systemd unit) "
            "or lower --fd-reserve")
    return FdBudget(limit=limit, reserve=reserve, max_connections=min(max_connections, available))


def plan_descriptors(*, wanted_limit: int | None, reserve: int, max_connections: int,
                     admin_connections: int) -> FdBudget:
    """Raise the open-file limit, work out each worker's connection cap, and log both once."""
    old, new = raise_open_file_limit(wanted_limit)
    plan = budget(new, reserve=reserve, max_connections=max_connections, admin_connections=admin_connections)
    log.info("open_file_limit", old=old, new=new, reserve=plan.reserve, max_connections=plan.max_connections)
    return plan
