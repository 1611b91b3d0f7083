"""The policy in force follows its file: good changes load, broken ones are logged, ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from risklist_kernel.enums import Action
from risklist_server.core.errors import PolicyError
from risklist_server.core.policy import DEFAULT_POLICY
from risklist_server.services.policy_watch import PolicyWatch
from tests.support.waiting import wait_until


def policy_text(action: str, reason_code: str) -> str:
    """A one-rule policy whose rule matches any listed subject reported by two sources."""
    return (f'[[rule]]\naction = "{action}"\nreason_code = "{reason_code}"\nmin_sources = 2\n\n'
            '[default]\naction = "REVIEW"\nreason_code = "REVIEW_LISTED"\n')


def test_without_a_file_the_built_in_policy_is_in_force() -> None:
    """No --policy: the built-in policy, and polling is a no-op."""
    watch = PolicyWatch(None)
    watch.poll()
    assert watch.current is DEFAULT_POLICY


def test_a_broken_file_at_start_is_an_error(tmp_path: Path) -> None:
    """A watch cannot start on a file that does not parse: the error names its line."""
    path = tmp_path / "policy.toml"
    path.write_text('[default]\naction = "NOPE"\nreason_code = "X"\n')
    with pytest.raises(PolicyError, match="line 2"):
        PolicyWatch(path)


def test_changes_load_and_broken_files_keep_the_old_policy(tmp_path: Path) -> None:
    """A good change replaces the policy; a broken one is logged once with line and reason, the old stays."""
    path = tmp_path / "policy.toml"
    path.write_text(policy_text("BLOCK", "BLOCK_TWO"))
    watch = PolicyWatch(path)
    first = watch.current
    with capture_logs() as logs:
        watch.poll()  # unchanged: nothing happens
        path.write_text(policy_text("REVIEW", "REVIEW_TWO"))
        watch.poll()
        assert watch.current.rules[0].action is Action.REVIEW
        loaded = watch.current
        path.write_text(policy_text("REVIEW", "REVIEW_TWO") + "min_level = \n")
        watch.poll()
        watch.poll()  # the same broken content is reported once
        assert watch.current is loaded
        path.unlink()
        watch.poll()
        assert watch.current is loaded
    assert [entry["event"] for entry in logs] == ["policy_loaded", "policy_rejected", "policy_rejected"]
    assert logs[0]["version"] == loaded.version != first.version
    assert logs[1]["line"] == 9 and "not valid TOML" in str(logs[1]["reason"])
    assert logs[1]["kept_version"] == loaded.version
    assert "does not exist" in str(logs[2]["reason"])


def test_the_watch_thread_picks_up_a_change_within_a_second(tmp_path: Path) -> None:
    """Started, the watch swaps the policy by itself soon after the file changes."""
    path = tmp_path / "policy.toml"
    path.write_text(policy_text("BLOCK", "BLOCK_TWO"))
    watch = PolicyWatch(path, poll_seconds=0.05).start()
    try:
        replacement = tmp_path / "policy.toml.new"
        replacement.write_text(policy_text("ALLOW", "ALLOW_TWO"))
        replacement.rename(path)  # as an atomic deploy does
        wait_until(lambda: watch.current.rules[0].action is Action.ALLOW, timeout=5,
                   message="the watch did not load the new policy")
    finally:
        watch.stop()


def test_a_restarted_worker_falls_back_to_the_start_up_policy(tmp_path: Path) -> None:
    """With a fallback, a broken file at start is logged and the fallback serves until the file is fixed."""
    path = tmp_path / "policy.toml"
    path.write_text(policy_text("BLOCK", "BLOCK_TWO"))
    startup = PolicyWatch(path).current
    path.write_text("[[rule]\n")
    with capture_logs() as logs:
        watch = PolicyWatch(path, fallback=startup)
        assert watch.current is startup
        path.write_text(policy_text("ALLOW", "ALLOW_TWO"))
        watch.poll()
    assert watch.current.rules[0].reason_code == "ALLOW_TWO"
    assert [(entry["event"], entry.get("line")) for entry in logs] == [("policy_rejected", 1), ("policy_loaded", None)]


def test_an_optional_file_absent_means_the_built_in_policy(tmp_path: Path) -> None:
    """A cluster node's copy of the cluster's policy: absent is the built-in policy, written is that policy,
    removed again is the built-in one, each change logged under the origin's name rather than the path."""
    path = tmp_path / "cluster-policy.toml"
    with capture_logs() as logs:
        watch = PolicyWatch(path, optional=True, origin="cluster")
        assert watch.current is DEFAULT_POLICY
        path.write_text(policy_text("BLOCK", "BLOCK_TWO"))
        watch.poll()
        assert watch.current.rules[0].reason_code == "BLOCK_TWO" and watch.current.origin == "cluster"
        path.unlink()
        watch.poll()
        assert watch.current is DEFAULT_POLICY
    assert [(entry["event"], entry["path"], entry["version"]) for entry in logs] == [
        ("policy_loaded", "built-in", "built-in"), ("policy_loaded", "cluster", logs[1]["version"]),
        ("policy_loaded", "built-in", "built-in")]
