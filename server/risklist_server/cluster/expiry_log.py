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

import time
from collections.abc import Callable
from typing import Protocol

import structlog

from risklist_server.cluster.log_messages_pb2 import ExpiryPurge, ExpiryPurgeResult
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.write_calls import WriteCall, WriteCalls, WriteGateway
from risklist_server.services.poller import Poller
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
    @property
    def version(self) -> int: ...

    def find_expired(self, start: bytes | None, limit: int, now: int) -> ExpirySlice: ...


class ClusterExpirySweeper:
    """The driver, on every node; only the lease's holder sweeps (see the module's description)."""

    def __init__(self, store: ExpirySweepStore, writes: WriteGateway, lease: Lease, node_id: str, *,
                 interval: float, slice_size: int, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._writes = writes
        self._lease = lease
        self._node_id = node_id
        self._slice_size = slice_size
        self._clock = clock
        self._caller = Caller(f"node:{node_id}", frozenset())
        self._next: bytes | None = None
        self._held_until = 0.0
        self._slices = 0
        self._poller = Poller(self.sweep_once, seconds=interval, name="expiry-sweep",
                              failure_event="expiry_sweep_failed", logger=log, once_per_outage=True)

    def start(self) -> None:
        self._poller.start()

    def stop(self) -> None:
        self._poller.stop()

    def sweep_once(self) -> int:
        """One slice, if this node holds the lease; the contributions purged (0 if it does not hold it)."""
        if not self._holds_lease():
            return 0
        found = self._store.find_expired(self._next, self._slice_size, int(self._clock()))
        if not found.purged:
            self._next = found.next_key
            return 0
        self._slices += 1
        request_id = f"expiry-{self._node_id}-{int(self._clock() * 1000)}-{self._slices}"
        done = self._writes.submit(PURGE, self._caller, request_id,
                                   ExpiryPurge(start=self._next or b"", limit=self._slice_size), ExpiryPurgeResult)
        self._next = done.next_key or None
        if done.purged:
            log.info("expiry_purged", purged=done.purged, list_version=self._store.version)
        return int(done.purged)

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
