"""The outcome key: 32 random bytes in the store's meta column family that only the server knows.

Every process of a server signs hits' outcome tokens with it (risklist_server.core.hit_token)
and the writer verifies them, so it lives in the store: every worker and every restart uses the
same key, and a backup carries it. It is never derived from the network secret, which every
member holds. The writer makes it on the first open of a store that has none (a new store, or
one made before outcomes were verified); read replicas only read it. A cluster node replaces it with the
cluster's own (kept by the write log's servers), so that a token one node made is proven on every node.
"""

from __future__ import annotations

import secrets

import structlog
from rocksdict import Rdict, WriteOptions

from risklist_server.core.errors import StoreError
from risklist_server.core.hit_token import OUTCOME_KEY_BYTES
from risklist_server.store.rocks import get_one

OUTCOME_KEY = b"outcome_key"
"""Meta key: the outcome key (docs/operations.md, "The store")."""

log = structlog.get_logger("risklist.store")


def read_outcome_key(meta: Rdict) -> bytes | None:
    """The stored outcome key, None if the store has none yet; StoreError if the stored one is damaged."""
    stored = get_one(meta, OUTCOME_KEY)
    if stored is not None and len(stored) != OUTCOME_KEY_BYTES:
        raise StoreError(f"the store's outcome key has {len(stored)} bytes, not {OUTCOME_KEY_BYTES}: the store "
                         "is damaged; restore it from a backup")
    return stored


def ensure_outcome_key(meta: Rdict) -> bytes:
    """The stored outcome key; made, and synced to disk, first if the store has none (the writer's open)."""
    stored = read_outcome_key(meta)
    if stored is not None:
        return stored
    key = secrets.token_bytes(OUTCOME_KEY_BYTES)
    synced = WriteOptions()
    synced.sync = True
    meta.put(OUTCOME_KEY, key, write_opt=synced)
    log.info("outcome_key_created")
    return key


def replace_outcome_key(meta: Rdict, key: bytes) -> None:
    """Make `key` the store's outcome key, synced (a cluster node adopting the cluster's: every node must verify
    every node's tokens). Tokens made with the store's former key are refused from then on."""
    if len(key) != OUTCOME_KEY_BYTES:
        raise StoreError(f"an outcome key has {OUTCOME_KEY_BYTES} bytes, not {len(key)}")
    synced = WriteOptions()
    synced.sync = True
    meta.put(OUTCOME_KEY, key, write_opt=synced)
