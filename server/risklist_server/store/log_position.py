"""How far a cluster node applied the network's write log: the sequence of its last applied entry, in `meta`.

A node writes the position in the same WriteBatch as the records its entry changed (RiskStore.log_entry), so
after a crash the store holds an entry's records exactly when it holds its position, and the node resumes from
the entry after it. An entry that ends without writing (refused, or changing nothing) has its position written
on its own as it ends; lost in a crash, that entry is applied again. One that ends with an error (a full disk)
leaves the position where it was: it is applied again after the restart.
"""

from __future__ import annotations

from rocksdict import Rdict

from risklist_server.store.rocks import get_one

LOG_POSITION_KEY = b"cluster_log_position"


def encode_log_position(sequence: int) -> bytes:
    return sequence.to_bytes(8, "big")


def read_log_position(meta: Rdict) -> int:
    """The last applied entry's sequence (0: none, or not a cluster node)."""
    value = get_one(meta, LOG_POSITION_KEY)
    return 0 if value is None else int.from_bytes(value, "big")
