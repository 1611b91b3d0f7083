"""Joining a cluster's list: a new store joins once, a store that joined stays with its cluster, and a store with
versions of its own never joins (its versions would count differently from every other node's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from risklist_server.core.errors import StoreError
from risklist_server.store.list_id import check_can_join
from risklist_server.store.risk_store import RiskStore


def test_a_new_store_joins_and_then_names_the_clusters_list(tmp_path: Path) -> None:
    store = RiskStore(tmp_path / "db", secret_fingerprint="f" * 16, create=True)
    try:
        own = store.list_id
        assert own == store.store_id
        store.join_list("cluster-list")
        store.join_list("cluster-list")  # again at every start: nothing to do
        assert store.list_id == "cluster-list"
    finally:
        store.close()
    reopened = RiskStore(tmp_path / "db", secret_fingerprint="f" * 16)
    try:
        assert reopened.list_id == "cluster-list"
        with pytest.raises(StoreError, match="belongs to another cluster's list"):
            reopened.join_list("another-list")
    finally:
        reopened.close()


def test_a_store_with_versions_no_log_wrote_may_not_join() -> None:
    with pytest.raises(StoreError, match="already holds list version 7"):
        check_can_join(None, "cluster-list", version=7, log_position=0, path="/srv/db")


def test_a_node_that_applied_the_log_before_list_ids_existed_joins() -> None:
    """An upgraded node: its versions were made by the log's entries, so it counts the cluster's list."""
    assert check_can_join(None, "cluster-list", version=7, log_position=9, path="/srv/db")
