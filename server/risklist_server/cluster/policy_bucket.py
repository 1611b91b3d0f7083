"""The network's policy kept in the cluster: one key of a JetStream key-value bucket beside the write log.

`risklist-admin policy push` puts a policy file's bytes there, checked first exactly as a server reads them; every
node's writer follows the key (risklist_server.cluster.policy_follower). The bytes are kept as pushed, so every
node computes the same version from them (the first 12 hex digits of their SHA-256, as `sha256sum` prints), and
the bucket keeps the last POLICY_HISTORY pushes for whoever must say which policy was in force when
(`nats kv history RISKLIST_POLICY policy`). It is a bucket of its own, apart from RISKLIST_CLUSTER, so that NATS
permissions can let an operator push a policy without letting them read the cluster's outcome key.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.api import KeyValueConfig

from risklist_server.cluster.write_log import WriteLog
from risklist_server.core.errors import PolicyError
from risklist_server.core.policy import Policy
from risklist_server.core.policy_file import parse_policy, policy_version

POLICY_BUCKET = "RISKLIST_POLICY"
POLICY_KEY = "policy"
POLICY_HISTORY = 16
"""Pushes the bucket keeps (the newest is in force)."""
MAX_POLICY_BYTES = 256 * 1024
"""The largest policy file the cluster takes (a policy of hundreds of rules is a few tens of KB)."""
CLUSTER_ORIGIN = "cluster"
"""What names a pushed policy in errors and logs (`path` of policy_loaded)."""


@dataclass(frozen=True, slots=True)
class PushedPolicy:
    """A policy as the cluster keeps it: the bucket's revision and the file's bytes."""

    revision: int
    data: bytes

    @property
    def version(self) -> str:
        """The version every node serving it names in its verdicts."""
        return policy_version(self.data)

    def parse(self) -> Policy:
        """The policy, read as a server reads a file; PolicyError (line, reason) if this node cannot use it."""
        return parse_policy(self.data, origin=CLUSTER_ORIGIN)


def checked_policy(data: bytes, origin: str) -> Policy:
    """The policy in `data` (a file named `origin`), if the cluster may take it; PolicyError as for a file."""
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(origin, 0, f"the file holds {len(data):,} bytes; a cluster's policy holds at most "
                          f"{MAX_POLICY_BYTES:,}")
    return parse_policy(data, origin=origin)


class PolicyBucket:
    """The cluster's policy key, through a node's (or an operator's) connection to the log's servers."""

    def __init__(self, log: WriteLog) -> None:
        self._log = log

    @property
    def _config(self) -> KeyValueConfig:
        return KeyValueConfig(bucket=POLICY_BUCKET, history=POLICY_HISTORY, replicas=self._log.stream_replicas,
                              max_value_size=MAX_POLICY_BYTES,
                              description="risklist network policy (risklist-admin policy push)")

    def current(self, *, timeout_s: float = 5.0) -> PushedPolicy | None:
        """The policy in force in the cluster, or None if none was pushed (or it was deleted): the built-in one.
        LogUnavailable without a quorum."""
        found = self._log.bucket_get(self._config, POLICY_KEY, timeout_s=timeout_s)
        return None if found is None else PushedPolicy(*found)

    def push(self, data: bytes, *, timeout_s: float = 15.0) -> PushedPolicy:
        """Put `data` (checked by the caller: checked_policy) in force; its revision. LogUnavailable without a
        quorum."""
        return PushedPolicy(self._log.bucket_put(self._config, POLICY_KEY, data, timeout_s=timeout_s), data)
