"""Admin.Ingest on a cluster node: every step of a load through the write log, applied by every node.

A load is logged as steps (log_messages.proto's IngestStep), each one entry: the start, one per batch, the finish.
Each step names the load's start (source, mode), so it applies alone on every node, in the log's order among
every other write, whatever a node restarted between two steps: a snapshot's marks live in the store. The node
that took the call appends each step (durable on a quorum) before it reads the next batch, so a load's batches
are applied in the order sent; it waits for this node to apply them PIPELINE steps behind (a batch is applied
while the next ones are appended), and for all of them before it logs the finish, so its answer counts what this
node applied. A batch refused when applied (the request's own fault: it was checked before it was logged, so
only a node of another version could refuse it) fails the call; up to PIPELINE - 1 batches logged after it are
applied all the same, as they would be had the caller sent them after the refusal.

The receiving node checks everything that depends on the caller (the source it may load, the secret's
fingerprint, each batch's size and rows) before logging a step; every node turns a batch's rows into mutations
again at the time the call was taken (the entry's), so a row's "reported in the future" check is the same
everywhere.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from google.protobuf.message import Message
from risklist.v1 import risklist_pb2 as pb

from risklist_server.cluster.log_messages_pb2 import IngestStep
from risklist_server.core.mutation import Mutation
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.convert import batch_mutations
from risklist_server.rpc.ingest_loads import IngestLoad, IngestLoads
from risklist_server.rpc.write_calls import WriteCall, WriteCalls, WriteGateway
from risklist_server.services.ingest import IngestSession, LoadMode
from risklist_server.store.apply import ApplyResult
from risklist_server.store.risk_store import RiskStore

INGEST = "Ingest"
"""The log entries' method name for a load's steps."""
_MODES = {pb.LOAD_MODE_DELTA: LoadMode.DELTA, pb.LOAD_MODE_SNAPSHOT: LoadMode.SNAPSHOT}


class UnknownLoadMode(ValueError):
    """A step names a load mode this node does not know (a newer node logged it): its applier stops."""


def ingest_calls(store: RiskStore, clock: Callable[[], float]) -> WriteCalls:
    """The write call every node applies for a load's step, on `store`, at `clock`'s time (the entry's)."""

    def apply(caller: Caller, request_id: str, step: IngestStep) -> pb.IngestResponse:
        mode = _MODES.get(step.start.mode)
        if mode is None:
            raise UnknownLoadMode(f"load step {request_id} has mode {step.start.mode}: upgrade this node")
        session = IngestSession(store, step.start.source, mode)
        if step.finish:
            result = session.finish()
        elif step.HasField("batch"):
            result = session.apply(batch_mutations(step.batch, step.start.source, step.number, int(clock())))
        else:
            session.start()
            result = ApplyResult()
        return pb.IngestResponse(added=result.added, unchanged=result.unchanged, removed=result.removed,
                                 not_listed=result.not_listed, swept=result.swept, list_version=store.version)

    return {INGEST: WriteCall(IngestStep, pb.IngestResponse, apply)}


PIPELINE = 8
"""A load's batches appended to the log ahead of the one this node is waiting to have applied."""


class Pending(Protocol):
    def result(self, response_type: type[pb.IngestResponse]) -> pb.IngestResponse: ...


class LogGateway(WriteGateway, Protocol):
    """A cluster node's gateway (ClusterNode): submit(), and begin() to append without waiting."""

    def begin(self, method: str, caller: Caller, request_id: str, request: Message, *,
              timeout: float | None = None) -> Pending: ...


class LoggedLoad:
    """One Ingest call's load through the log (see the module's description)."""

    def __init__(self, writes: LogGateway, start: pb.IngestStart, caller: Caller, request_id: str) -> None:
        self._writes = writes
        self._start = start
        self._caller = caller
        self._request_id = request_id
        self._result = ApplyResult()
        self._pending: deque[Pending] = deque()

    def start(self) -> None:
        self._writes.submit(INGEST, self._caller, self._step_id("start"), IngestStep(start=self._start),
                            pb.IngestResponse)

    def apply(self, mutations: Sequence[Mutation], batch: pb.IngestBatch, number: int) -> None:
        step = IngestStep(start=self._start, batch=batch, number=number)
        self._pending.append(self._writes.begin(INGEST, self._caller, self._step_id(str(number)), step))
        if len(self._pending) >= PIPELINE:
            self._collect()

    def finish(self) -> ApplyResult:
        while self._pending:
            self._collect()
        self._result.swept += self._writes.submit(INGEST, self._caller, self._step_id("finish"),
                                                  IngestStep(start=self._start, finish=True), pb.IngestResponse).swept
        return self._result

    def _collect(self) -> None:
        """Wait for the oldest batch in flight to be applied here, and count it."""
        self._result.merge(_counts(self._pending.popleft().result(pb.IngestResponse)))

    def _step_id(self, name: str) -> str:
        # Each step its own entry id: a retried publish of the same step is stored once.
        return f"{self._request_id}.{name}"


def logged_loads(writes: LogGateway) -> IngestLoads:
    """Loads through a cluster node's gateway (its ClusterNode)."""

    def load(start: pb.IngestStart, mode: LoadMode, caller: Caller, request_id: str) -> IngestLoad:
        return LoggedLoad(writes, start, caller, request_id)

    return load


def _counts(response: pb.IngestResponse) -> ApplyResult:
    return ApplyResult(added=response.added, unchanged=response.unchanged, removed=response.removed,
                       not_listed=response.not_listed)
