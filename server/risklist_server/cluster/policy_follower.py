"""A cluster node's writer keeps a file in the node's run directory holding the cluster's policy.

Every serving process of the node (the writer and each reader) follows that file with its PolicyWatch, so the
readers need no NATS connection. The file is written whole and renamed into place, only once this node read the
policy; it is absent while the cluster has none (the built-in policy). A pushed policy this node cannot read (a
newer format) is never half followed: the node keeps serving the policy it had, every verdict naming that
policy's version, logs `cluster_policy_rejected` and reports NOT_SERVING (`problem`) until it can read the
cluster's policy again. At start there is no policy to keep: the node refuses to start.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

import structlog

from risklist_server.cluster.policy_bucket import PushedPolicy
from risklist_server.cluster.write_log import LogUnavailable
from risklist_server.core.errors import ConfigError, PolicyError
from risklist_server.core.policy import DEFAULT_POLICY
from risklist_server.services.poller import Poller

POLL_S = 0.5
POLICY_FILE = "cluster-policy.toml"
"""The file in the node's run directory (risklist_server.process.serve) every process's PolicyWatch follows."""

log = structlog.get_logger("risklist.cluster")


def cluster_policy_file(run_dir: str | Path) -> Path:
    """Where the processes of the node running from `run_dir` find the cluster's policy."""
    return Path(run_dir) / POLICY_FILE


class PolicySource(Protocol):
    """Where the cluster's policy is kept (PolicyBucket)."""

    def current(self) -> PushedPolicy | None: ...


class PolicyFollower:
    """Keeps `path` holding the policy the cluster's bucket holds (see the module's description)."""

    def __init__(self, bucket: PolicySource, path: Path, *, poll_s: float = POLL_S) -> None:
        self._bucket = bucket
        self._path = path
        self._poller = Poller(self.poll, seconds=poll_s, name="cluster-policy", failure_event="cluster_policy_failed",
                              once_per_outage=True)
        self._revision: int | None = None
        """The bucket's revision last looked at (0: none pushed), None before the first look."""
        self._version = DEFAULT_POLICY.version
        """The version of the policy in `path` (the one this node serves)."""
        self.problem: str | None = None
        """Why this node does not serve the cluster's policy now (None: it does)."""

    def sync(self) -> PolicyFollower:
        """At start: write the cluster's policy (or none) to `path` before any process loads it. ConfigError if this
        node cannot read it; LogUnavailable without a quorum."""
        pushed = self._bucket.current()
        if pushed is not None:
            try:
                pushed.parse()
            except PolicyError as error:
                raise ConfigError(f"the cluster's policy (revision {pushed.revision}, version {pushed.version}) "
                                  f"cannot be read by this node: {error}; upgrade this node, or push a policy it "
                                  "reads (risklist-admin policy push)") from None
        self._follow(pushed, at_start=True)
        return self

    def start(self) -> PolicyFollower:
        self._poller.start()
        return self

    def stop(self) -> None:
        self._poller.stop()

    def poll(self) -> None:
        """Look at the bucket once: follow a new policy this node reads, report one it cannot read."""
        try:
            pushed = self._bucket.current()
        except LogUnavailable:
            return  # cut off: the node's lag says so (NOT_SERVING past --max-lag); the policy in force stays
        if (0 if pushed is None else pushed.revision) == self._revision:
            return
        if pushed is not None:
            try:
                pushed.parse()
            except PolicyError as error:
                self._revision = pushed.revision
                self.problem = (f"cannot read the cluster's policy (revision {pushed.revision}, version "
                                f"{pushed.version}): upgrade this node, or push a policy it reads")
                log.error("cluster_policy_rejected", revision=pushed.revision, version=pushed.version,
                          line=error.line, reason=error.reason, kept_version=self._version)
                return
        self._follow(pushed, at_start=False)

    def _follow(self, pushed: PushedPolicy | None, *, at_start: bool) -> None:
        if pushed is None:
            self._path.unlink(missing_ok=True)
            self._version = DEFAULT_POLICY.version
        else:
            _write_whole(self._path, pushed.data)
            self._version = pushed.version
        self._revision = 0 if pushed is None else pushed.revision
        self.problem = None
        log.info("cluster_policy_adopted", revision=self._revision, version=self._version, reload=not at_start)


def _write_whole(path: Path, data: bytes) -> None:
    """`data` into `path` by a rename: a process reading it sees the old file or the new one, never a part."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
