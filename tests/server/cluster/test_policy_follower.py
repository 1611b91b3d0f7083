"""A node's writer keeps the cluster's policy in a file its processes load: whole, only once readable, and a
pushed policy it cannot read leaves the old one in force and the node not serving, never half followed."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from risklist_server.cluster.policy_bucket import MAX_POLICY_BYTES, PushedPolicy, checked_policy
from risklist_server.cluster.policy_follower import PolicyFollower
from risklist_server.cluster.write_log import LogUnavailable
from risklist_server.core.errors import ConfigError, PolicyError
from risklist_server.core.policy_file import policy_version

GOOD = b'[[rule]]\naction = "BLOCK"\nreason_code = "BLOCK_TWO"\nmin_sources = 2\n\n' \
       b'[default]\naction = "REVIEW"\nreason_code = "REVIEW_LISTED"\n'
NEWER = GOOD.replace(b"min_sources = 2\n", b"min_sources = 2\nmin_velocity = 3\n")
"""A policy of a newer format: a key this version does not know."""


class Bucket:
    """The cluster's policy key, as a test sets it (None: nothing pushed); unavailable while `cut_off`."""

    def __init__(self) -> None:
        self.pushed: PushedPolicy | None = None
        self.cut_off = False

    def push(self, data: bytes) -> None:
        self.pushed = PushedPolicy((self.pushed.revision if self.pushed else 0) + 1, data)

    def current(self) -> PushedPolicy | None:
        if self.cut_off:
            raise LogUnavailable("no quorum")
        return self.pushed


def test_the_file_follows_the_cluster_and_is_absent_while_none_is_pushed(tmp_path: Path) -> None:
    """None pushed: no file (the built-in policy); a push: the file holds its bytes; a deleted key: no file again."""
    bucket, path = Bucket(), tmp_path / "cluster-policy.toml"
    with capture_logs() as logs:
        follower = PolicyFollower(bucket, path).sync()
        assert not path.exists()
        bucket.push(GOOD)
        follower.poll()
        assert path.read_bytes() == GOOD
        follower.poll()  # unchanged: nothing written, nothing logged
        bucket.pushed = None
        follower.poll()
        assert not path.exists()
    assert [(entry["event"], entry["revision"], entry["version"], entry["reload"]) for entry in logs] == [
        ("cluster_policy_adopted", 0, "built-in", False), ("cluster_policy_adopted", 1, policy_version(GOOD), True),
        ("cluster_policy_adopted", 0, "built-in", True)]
    assert follower.problem is None


def test_a_policy_this_node_cannot_read_keeps_the_old_one_and_says_so_until_a_readable_one_comes(
        tmp_path: Path) -> None:
    """A newer format is reported once with its line, the file keeps the policy in force, and the node has a
    problem (NOT_SERVING) until a policy it reads is pushed."""
    bucket, path = Bucket(), tmp_path / "cluster-policy.toml"
    bucket.push(GOOD)
    follower = PolicyFollower(bucket, path).sync()
    bucket.push(NEWER)
    with capture_logs() as logs:
        follower.poll()
        follower.poll()
    assert path.read_bytes() == GOOD
    assert follower.problem is not None and "revision 2" in follower.problem
    [rejected] = logs
    assert rejected["event"] == "cluster_policy_rejected" and rejected["line"] == 5
    assert "min_velocity" in str(rejected["reason"]) and rejected["kept_version"] == policy_version(GOOD)
    bucket.cut_off = True
    follower.poll()  # cut off from the cluster: what is in force stays, the lag speaks for the outage
    assert follower.problem is not None
    bucket.cut_off = False
    bucket.push(GOOD.replace(b"BLOCK_TWO", b"BLOCK_PAIR"))
    follower.poll()
    assert follower.problem is None and b"BLOCK_PAIR" in path.read_bytes()


def test_a_node_does_not_start_on_a_policy_it_cannot_read(tmp_path: Path) -> None:
    """At start there is no policy to keep: the node refuses to start, naming the revision, line and what to do."""
    bucket = Bucket()
    bucket.push(NEWER)
    with pytest.raises(ConfigError, match=r"revision 1.*line 5.*min_velocity.*upgrade this node"):
        PolicyFollower(bucket, tmp_path / "cluster-policy.toml").sync()
    assert not (tmp_path / "cluster-policy.toml").exists()


def test_the_cluster_takes_only_a_policy_a_server_would_load_and_of_bounded_size() -> None:
    """checked_policy refuses what risklist-server --policy refuses, with the same message, and oversized files."""
    with pytest.raises(PolicyError, match=r"policy file p.toml, line 5: rule 1: unknown key 'min_velocity'"):
        checked_policy(NEWER, "p.toml")
    with pytest.raises(PolicyError, match="at most"):
        checked_policy(GOOD + b"#" * MAX_POLICY_BYTES, "p.toml")
    assert checked_policy(GOOD, "p.toml").version == policy_version(GOOD)
