"""The cluster's policy on three real nats-servers: an operator's tool finds the cluster but never makes one, and
the policy pushed is the one every connection reads back, byte for byte, under a growing revision."""

from __future__ import annotations

import pytest

from risklist_server.cluster.policy_bucket import PolicyBucket
from risklist_server.cluster.write_log import LogSettings, WriteLog
from risklist_server.core.errors import ConfigError
from tools.local_nats import NatsCluster

SMALL = LogSettings(max_bytes=64 * 2**20)


def test_a_pushed_policy_is_read_back_by_every_connection(cluster: NatsCluster) -> None:
    """Before any node made the log, an operator's connection is refused; then pushes are read back in order."""
    with pytest.raises(ConfigError, match="no risklist cluster on .*start a node first"):
        WriteLog(cluster.urls).open(create=False)
    with WriteLog(cluster.urls, SMALL).open() as node, WriteLog(cluster.urls).open(create=False) as operator:
        assert PolicyBucket(node).current() is None
        first = PolicyBucket(operator).push(b"first")
        second = PolicyBucket(operator).push(b"second")
        assert second.revision > first.revision
        assert PolicyBucket(node).current() == second
        assert second.version == "16367aacb67a"  # sha256(b"second"), as sha256sum prints it
