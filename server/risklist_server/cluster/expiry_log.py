"""The expiry sweep of a cluster: one node drives it, every node purges the same contributions at the same time.

A node alone purges expired contributions by its own clock (risklist_server.services.expiry_sweep). Nodes doing
that each on their own would purge at different moments, and their records would differ in between. In a
cluster the sweep goes through the log instead: the node holding the lease EXPIRY_LEASE (in the log's lease
bucket: at most one node at a time, another takes over LEASE_TTL_S after its holder stopped renewing it) walks
the records a slice at a time, as a node alone does. For a slice holding something expired at that moment it
logs an ExpiryPurge entry (the slice's start and size), and every node, applying the entry, purges what is
expired in that slice at the entry's time: the same records on every node, at the same place among the other
writes. A slice with nothing expired is skipped without logging anything (the driver reads its own store,
which holds what every node holds up to where it applied the log).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from risklist_server.cluster.log_messages_pb2 import ExpiryPurge, ExpiryPurgeResult
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.write_calls import WriteCall, WriteCalls, WriteGateway
from risklist_server.store.expiry_purge import ExpirySlice
from risklist_server.store.risk_store import RiskStore

log = structlog.get_logger("risklist.expiry")

PURGE = "PurgeExpired"
"""The log entries' method name for a slice of the sweep."""
EXPIRY_LEASE = "expiry-sweep"
LEASE_RENEW_S = 10.0
"""How long the driver trusts a lease it took or renewed before it renews it (well inside LEASE_TTL_S)."""


def expiry_calls(store: RiskStore, clock: Callable[[], float]) -> WriteCalls:
    """The write call every node applies for a slice of the sweep, on `store`, at `clock`'s time (the entry's)."""

    def purge(caller: Caller, request_id: str, request: ExpiryPurge) -> ExpiryPurgeResult:
        done = store.purge_expired(request.start or None, request.limit, int(clock()))
        return ExpiryPurgeResult(scanned=done.scanned, purged=done.purged, next_key=done.next_key or b"")

    return {PURGE: WriteCall(ExpiryPurge, ExpiryPurgeResult, purge)}


class Lease(Protocol):
    def hold_lease(self, name: str, holder: str) -> bool: ...


class ExpirySweepStore(Protocol):
    def find_expired(self, start: bytes | None, limit: int, now: int) -> ExpirySlice: ...


class LoggedPurge:
    """A cluster node's slice of the expiry sweep (ExpirySweeper's `purge`): nothing unless this node holds the
    lease; else, for a slice holding something expired, an ExpiryPurge entry through the log (see the module's
    description). Returns what this node purged applying it."""

    def __init__(self, store: ExpirySweepStore, writes: WriteGateway, lease: Lease, node_id: str, *,
                 clock_problem: Callable[[], str | None] = lambda: None) -> None:
        """`clock_problem`: why this node's clock must not be trusted now (ClusterNode.clock_problem), or None: while
        it is not, this node neither takes nor renews the lease, so a node whose clock is right drives the sweep."""
        self._store = store
        self._clock_problem = clock_problem
        self._writes = writes
        self._lease = lease
        self._node_id = node_id
        self._caller = Caller(f"node:{node_id}", frozenset())
        self._held_until = 0.0

    def __call__(self, start: bytes | None, limit: int, now: int) -> ExpirySlice:
        if self._clock_problem() is not None or not self._holds_lease():
            return ExpirySlice(0, 0, start)  # no progress: the holder sweeps
        found = self._store.find_expired(start, limit, now)
        if not found.purged:
            return found
        # A fresh id per slice: the log drops a repeated id as a retried publish (a restarted node's counter would).
        done = self._writes.submit(PURGE, self._caller, f"expiry-{self._node_id}-{secrets.token_hex(8)}",
                                   ExpiryPurge(start=start or b"", limit=limit), ExpiryPurgeResult)
        return ExpirySlice(done.scanned, done.purged, done.next_key or None)

    def _holds_lease(self) -> bool:
        now = time.monotonic()
        if now < self._held_until:
            return True
        held = self._lease.hold_lease(EXPIRY_LEASE, self._node_id)
        if held and self._held_until == 0.0:
            log.info("expiry_lease_taken", node=self._node_id)
        if not held and self._held_until:
            log.warning("expiry_lease_lost", node=self._node_id)
        self._held_until = now + LEASE_RENEW_S if held else 0.0
        return held
