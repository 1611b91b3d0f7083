"""A risklist-server in cluster mode: its writes through the network's log, its store following the log.

The writer process of a node started with --cluster builds one ClusterNode over its store. connect() joins the log
and writes the cluster's policy where the node's processes load it (risklist_server.cluster.policy_follower);
start() takes the write calls the node would run alone: submit() appends each call to the log and answers once
this node applied it (StreamWrites), and the node's LogApplier applies every node's entries to the store, from
where the store's position says.
`state()` says whether the node may serve: not while it has not yet found itself caught up with the log, not
once it is more than `max_lag_s` behind it (cut off from the log's servers, or slower than the network's writes),
never again once it failed to apply an entry (its records would differ from the other nodes'), and not while it
cannot read the policy the cluster pushed (it serves the one it had meanwhile).

Report, Revoke, ReportOutcome, Admin.Ingest's steps (risklist_server.cluster.ingest_log) and the expiry sweep's
slices (risklist_server.cluster.expiry_log) go through the log (CLUSTER_METHODS). An outcome is proven by a hit
token any node may have made: at start the node adopts the cluster's outcome key (kept in the cluster's key-value
bucket, made by the first node), so every node makes and verifies tokens with the same key and decides every
outcome the same. It also joins the cluster's list id (made the same way): every node applies the same entries
in the same order, so its versions are every node's, and a partner's filter moves between nodes without a reset.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from google.protobuf.message import Message

from risklist_server.cluster.applier import LogApplier
from risklist_server.cluster.checkpoint_bucket import CheckpointBucket
from risklist_server.cluster.clock_watch import ClockWatch
from risklist_server.cluster.config import ClusterConfig
from risklist_server.cluster.policy_bucket import PolicyBucket
from risklist_server.cluster.policy_follower import PolicyFollower
from risklist_server.cluster.stream_writes import (
    REFUSALS,
    LogPositions,
    PendingWrite,
    PinnedClock,
    StreamWrites,
    write_call_applier,
)
from risklist_server.cluster.write_log import LogSettings, LogUnavailable, WriteLog
from risklist_server.core.errors import WriteUnavailable
from risklist_server.core.hit_token import OUTCOME_KEY_BYTES
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.write_calls import ResponseT, WriteCalls

CLUSTER_METHODS = frozenset({"Report", "Revoke", "ReportOutcome", "Ingest", "PurgeExpired"})
OUTCOME_KEY = "outcome-key"
"""The cluster bucket's key for the outcome key (risklist_server.store.outcome_key)."""
LIST_ID = "list-id"
"""The cluster bucket's key for the list id every node's partners see (risklist_server.store.list_id)."""


class NodeStore(LogPositions, Protocol):
    """The store a node applies the log to (RiskStore)."""

    def adopt_outcome_key(self, key: bytes) -> bool: ...

    def join_list(self, list_id: str) -> None: ...
"""The write calls a cluster node takes (see the module's description)."""


@dataclass(frozen=True, slots=True)
class NodeState:
    """Whether the node may serve now, and if not why; its lag (None: not yet caught up once) and position."""

    serving: bool
    reason: str
    lag_s: float | None
    applied: int


class ClusterNode:
    """See the module's description. connect() joins (LogUnavailable, ConfigError); start() starts applying."""

    def __init__(self, config: ClusterConfig, store: NodeStore, clock: PinnedClock, *, network: str,
                 on_gap: Callable[[], None] = lambda: None) -> None:
        """`clock`: the clock of the services whose write calls start() takes; `network`: the secret's fingerprint
        (the log must be this network's); `on_gap`: called once the log no longer holds the entry this node needs
        next (the node must restore the cluster's checkpoint: risklist_server.cluster.rejoin)."""
        self.config = config
        self._store = store
        self._calls: WriteCalls = {}
        self._clock = clock
        self._network = network
        self._on_gap = on_gap
        self._log: WriteLog | None = None
        self._policy: PolicyFollower | None = None
        self._applier: LogApplier | None = None
        self._writes: StreamWrites | None = None
        self._clock_watch: ClockWatch | None = None

    def connect(self, policy_file: Path) -> ClusterNode:
        """Join the log (LogUnavailable, ConfigError), adopt the cluster's outcome key, and write the cluster's policy
        to `policy_file` (absent: none pushed) for the node's processes to load (ConfigError if unreadable)."""
        settings = LogSettings(replicas=self.config.replicas, max_bytes=self.config.log_max_bytes)
        self._log = WriteLog(self.config.servers, settings, network=self._network, auth=self.config.auth).open()
        try:
            self._store.join_list(self._log.cluster_value(LIST_ID, uuid.uuid4().hex.encode("ascii")).decode("ascii"))
            self._store.adopt_outcome_key(self._log.cluster_value(OUTCOME_KEY,
                                                                  secrets.token_bytes(OUTCOME_KEY_BYTES)))
            self._policy = PolicyFollower(PolicyBucket(self._log), policy_file).sync()
        except BaseException:
            self.close()
            raise
        return self

    def start(self, calls: WriteCalls) -> ClusterNode:
        """Apply the log with `calls` (the write calls this node runs, over services whose clock is the node's),
        take writes, and follow the cluster's policy; after connect()."""
        if self._log is None or self._policy is None:
            raise RuntimeError("ClusterNode.start before connect()")
        self._calls = {name: call for name, call in calls.items() if name in CLUSTER_METHODS}
        self._applier = LogApplier(self._log, write_call_applier(self._calls, self._clock, self._store),
                                   refusals=REFUSALS, applied=self._store.log_position, on_gap=self._on_gap).start()
        self._writes = StreamWrites(self._log, self._applier)
        self._policy.start()
        log = self._log
        self._clock_watch = ClockWatch(lambda: log.clock_offset(self.config.node_id))
        with contextlib.suppress(LogUnavailable):  # the watch's rounds try again
            self._clock_watch.check()  # before the node first says it serves
        self._clock_watch.start()
        return self

    @property
    def clock_problem(self) -> str | None:
        """Why this node's clock must not be trusted now (ClockWatch), or None."""
        return None if self._clock_watch is None else self._clock_watch.problem

    def submit(
        self, method: str, caller: Caller, request_id: str, request: Message, response_type: type[ResponseT],
        *, timeout: float | None = None,
    ) -> ResponseT:
        """The node's WriteGateway: the call through the log (StreamWrites), or UNIMPLEMENTED for a method the
        cluster does not take yet, refused before it reaches the log (where every node's applier would stop)."""
        if method not in self._calls:
            raise NotImplementedError(f"{method} is not served by a cluster node yet (only "
                                      f"{', '.join(sorted(CLUSTER_METHODS))}); docs/cluster.md says why")
        if self._writes is None:
            raise RuntimeError("ClusterNode.submit before start()")
        self._refuse_while_clock_is_off()
        return self._writes.submit(method, caller, request_id, request, response_type, timeout=timeout)

    def checkpoints(self) -> CheckpointBucket:
        """The cluster's checkpoint store, over this node's log connection."""
        if self._log is None:
            raise RuntimeError("ClusterNode.checkpoints before start()")
        return CheckpointBucket(self._log, replicas=self.config.replicas, network=self._network)

    def begin(self, method: str, caller: Caller, request_id: str, request: Message, *,
              timeout: float | None = None) -> PendingWrite:
        """The call appended to the log, not yet waited for (StreamWrites.begin): a load's batches pipelined."""
        if method not in self._calls:
            raise NotImplementedError(f"{method} is not served by a cluster node yet")
        if self._writes is None:
            raise RuntimeError("ClusterNode.begin before start()")
        self._refuse_while_clock_is_off()
        return self._writes.begin(method, caller, request_id, request, timeout=timeout)

    def _refuse_while_clock_is_off(self) -> None:
        """A write runs at its receiving node's time on every node (its dates, what it finds expired): none is
        taken while this node's clock is off (UNAVAILABLE: another node takes it)."""
        problem = self.clock_problem
        if problem is not None:
            raise WriteUnavailable(f"this node takes no writes now: {problem}; nothing was written, send it to "
                                   "another node")

    def hold_lease(self, name: str, holder: str) -> bool:
        """Whether `holder` holds the cluster lease `name` (WriteLog.hold_lease)."""
        if self._log is None:
            raise RuntimeError("ClusterNode.hold_lease before start()")
        return self._log.hold_lease(name, holder)

    def state(self) -> NodeState:
        applier = self._applier
        if applier is None:
            return NodeState(False, "not started", None, self._store.log_position)
        lag = applier.lag_s()
        applied = applier.applied
        if applier.failure is not None:
            return NodeState(False, f"stopped applying the log ({type(applier.failure).__name__})", lag, applied)
        if lag is None:
            return NodeState(False, "catching up with the log", lag, applied)
        if self._policy is not None and self._policy.problem is not None:
            return NodeState(False, self._policy.problem, lag, applied)
        if self.clock_problem is not None:
            return NodeState(False, self.clock_problem, lag, applied)
        if lag > self.config.max_lag_s:
            return NodeState(False, f"{lag:.1f} s behind the log (more than --max-lag {self.config.max_lag_s:g} s)",
                             lag, applied)
        return NodeState(True, "", lag, applied)

    def close(self) -> None:
        if self._clock_watch is not None:
            self._clock_watch.stop()
        if self._policy is not None:
            self._policy.stop()
        if self._applier is not None:
            self._applier.stop()
        if self._log is not None:
            self._log.close()

