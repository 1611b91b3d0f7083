"""Outcome tokens for the hits of an answer, made with the store's outcome key (risklist_server.core.hit_token)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import structlog

from risklist_server.core.hit_token import TokenKey

log = structlog.get_logger("risklist.outcomes")


class HitTokens:
    """`tokens(partner, request_id, keys)` for the listed subjects of one answer.

    Fails closed: while the store has no outcome key (a reader of a store its writer has not
    opened since outcomes were verified), hits carry no token, so outcomes for them will be
    refused, and the first such answer says so in the log, never an unverifiable token.
    """

    def __init__(self, key: Callable[[], bytes | None]) -> None:
        self._key = key
        self._signer: tuple[bytes, TokenKey] | None = None
        """The key last read, made ready to sign (once, not per answer)."""
        self._missing = False
        self._lock = threading.Lock()

    def tokens(self, partner: str, request_id: str, keys: Sequence[bytes]) -> list[bytes]:
        """The outcome token of each hit on `keys` (storage keys) in answer `request_id` to `partner`, in order;
        empty tokens while the store has no outcome key."""
        if not keys:
            return []
        key = self._key()
        if key is None:
            self._note(missing=True)
            return [b""] * len(keys)
        if self._missing:
            self._note(missing=False)
        signer = self._signer
        if signer is None or signer[0] != key:
            signer = self._signer = (key, TokenKey(key))
        minter = signer[1].minter(partner, request_id)
        return [minter.token(storage_key) for storage_key in keys]

    def _note(self, *, missing: bool) -> None:
        """Log once when tokens stop (and start again)."""
        with self._lock:
            if self._missing == missing:
                return
            self._missing = missing
        if missing:
            log.error("outcome_key_missing",
                      reason="the store has no outcome key yet; hits carry no outcome_token and outcomes for them "
                             "will be refused until the writer has opened the store")
        else:
            log.info("outcome_key_found")

