"""The list id partners see: which list a store's versions count, the same on every node of a cluster.

A store alone counts its own versions, so its list id is its store id (risklist_server.store.store_id). The
nodes of a cluster apply the same log entries in the same order, so their changelogs give every entry the same
version; they share one list id, kept by the cluster's key-value bucket and written into each node's `meta` when
it joins (RiskStore.join_list), so a partner's filter moves between nodes without a reset. A store joins one
cluster's list for good: a store with versions of its own, or another cluster's, would count differently.
"""

from __future__ import annotations

from rocksdict import Rdict, WriteOptions

from risklist_server.core.errors import StoreError
from risklist_server.store.rocks import get_one

LIST_ID_KEY = b"cluster_list_id"
"""Meta key: the cluster's list id, ASCII; absent for a store alone (docs/operations.md, "The store")."""


def read_cluster_list_id(meta: Rdict) -> str | None:
    """The cluster list id the store joined; None if it never joined one."""
    stored = get_one(meta, LIST_ID_KEY)
    return None if stored is None else stored.decode("ascii", errors="replace")


def check_can_join(joined: str | None, list_id: str, *, version: int, log_position: int, path: str) -> bool:
    """Whether the store must record `list_id` (False: it already counts that list); StoreError if it may not
    count it: it joined another cluster, or holds versions but applied no log entry (a store loaded alone). A
    store that applied log entries before nodes recorded a list id joins: its versions are the log's."""
    if joined == list_id:
        return False
    if joined is not None:
        raise StoreError(f"the store at {path} belongs to another cluster's list ({joined}), not this cluster's "
                         f"({list_id}): give this node a new --db (or restore one of this cluster's checkpoints)")
    if version > 0 and log_position == 0:
        raise StoreError(f"the store at {path} already holds list version {version} that this cluster's log did "
                         "not write: a node starts from a new store (or one of this cluster's checkpoints); load "
                         "the feeds through the cluster instead (risklist-load --server, docs/cluster.md)")
    return True


def write_cluster_list_id(meta: Rdict, list_id: str) -> None:
    """Record `list_id` as the store's, synced before any log entry is applied to it."""
    synced = WriteOptions()
    synced.sync = True
    meta.put(LIST_ID_KEY, list_id.encode("ascii"), write_opt=synced)
