"""How an Admin.Ingest call's load is applied: to this process's store, or (a cluster node's) through the write log.

The servicer reads and checks the call (the start, each batch's size and rows) and hands each step to the load:
start() once, apply() per batch, finish() once. A node alone applies them to its store (LocalLoad); a cluster node
logs them (risklist_server.cluster.ingest_log) and every node applies them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from risklist.v1 import risklist_pb2 as pb

from risklist_server.core.mutation import Mutation
from risklist_server.rpc.access.caller import Caller
from risklist_server.services.ingest import IngestSession, LoadMode
from risklist_server.store.apply import ApplyResult
from risklist_server.store.risk_store import RiskStore


class IngestLoad(Protocol):
    """One Ingest call's load (see the module's description)."""

    def start(self) -> None: ...

    def apply(self, mutations: Sequence[Mutation], batch: pb.IngestBatch, number: int) -> None:
        """Apply one batch (its message `number`, already turned into `mutations`); finish() counts it."""
        ...

    def finish(self) -> ApplyResult:
        """End the load; return the totals (a snapshot's `swept` too)."""
        ...


IngestLoads = Callable[[pb.IngestStart, LoadMode, Caller, str], IngestLoad]
"""(the call's start message, its mode, the caller, the call's request id) -> the call's load."""


class LocalLoad:
    """A load applied to this process's store (services.ingest.IngestSession)."""

    def __init__(self, session: IngestSession) -> None:
        self._session = session

    def start(self) -> None:
        self._session.start()

    def apply(self, mutations: Sequence[Mutation], batch: pb.IngestBatch, number: int) -> None:
        self._session.apply(mutations)

    def finish(self) -> ApplyResult:
        return self._session.finish()


def local_loads(store: RiskStore) -> IngestLoads:
    """Loads applied to `store` by this process (a node alone)."""

    def load(start: pb.IngestStart, mode: LoadMode, caller: Caller, request_id: str) -> IngestLoad:
        return LocalLoad(IngestSession(store, start.source, mode))

    return load
