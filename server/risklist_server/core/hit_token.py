"""Proof of a hit: request ids that say when they were issued, and the outcome token of each hit in an answer.

A request id is 12 bytes, written as 24 lower-case hex characters: the second it was issued
(u32, big-endian unix time) and 8 random bytes. Each listed subject in an answer carries an
outcome token, HMAC-SHA256(outcome key, partner id || request id bytes || storage key) cut to
16 bytes: only the server, which alone holds the outcome key, can make one, and it is good only
for the member the answer went to, that answer and that subject. ReportOutcome takes an outcome
only with such a token, within a window after the answer (docs/api.md, ReportOutcome). The
request id and the storage key have fixed lengths, so the concatenation reads one way only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from risklist_kernel.digest import KEY_SIZE

REQUEST_ID_BYTES = 12
NONCE_BYTES = 8
REQUEST_ID_PATTERN = re.compile(r"[0-9a-f]{24}")
"""What risklist_server.rpc.request_id.new_request_id issues: 24 lower-case hex characters."""
TOKEN_BYTES = 16
OUTCOME_KEY_BYTES = 32
MAX_ISSUED_AT = 2**32 - 1
"""The last second a u32 can hold (in 2106)."""
CLOCK_SKEW_SECONDS = 300
"""A request id may say it was issued this much later than the verifying process's clock reads."""


def encode_request_id(issued_at: int, nonce: bytes) -> str:
    """The request id issued at unix second `issued_at` (0 … 2**32 - 1) with `nonce` (8 random bytes)."""
    if not 0 <= issued_at <= MAX_ISSUED_AT:
        raise ValueError(f"issued_at {issued_at} does not fit 32 bits")
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"a request id's nonce has {NONCE_BYTES} bytes, not {len(nonce)}")
    return (issued_at.to_bytes(4, "big") + nonce).hex()


def issued_at(request_id: str) -> int:
    """The unix second a well-formed request id (REQUEST_ID_PATTERN) was issued at."""
    return int(request_id[:8], 16)


class TokenKey:
    """An outcome key made ready to sign: one keyed HMAC-SHA256 state, copied per answer and per hit (hmac's
    copy() keeps the key's inner and outer hashes), so no answer builds a new HMAC from the key."""

    __slots__ = ("_keyed",)

    def __init__(self, key: bytes) -> None:
        if len(key) != OUTCOME_KEY_BYTES:
            raise ValueError(f"an outcome key has {OUTCOME_KEY_BYTES} bytes, not {len(key)}")
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def minter(self, partner: str, request_id: str) -> TokenMinter:
        """The tokens of answer `request_id` (well-formed) to `partner`."""
        answer = self._keyed.copy()
        answer.update(partner.encode() + bytes.fromhex(request_id))
        return TokenMinter(answer)


class TokenMinter:
    """The tokens of one answer: the partner and request id already fed to the HMAC, each hit's key after them."""

    __slots__ = ("_answer",)

    def __init__(self, answer: hmac.HMAC) -> None:
        self._answer = answer

    def token(self, storage_key: bytes) -> bytes:
        """The outcome token of the hit on `storage_key` (type byte + digest) in this answer."""
        hit = self._answer.copy()
        hit.update(storage_key)
        return hit.digest()[:TOKEN_BYTES]


def hit_token(key: bytes, partner: str, request_id: str, storage_key: bytes) -> bytes:
    """The outcome token of one hit: HMAC-SHA256(key, partner || request id bytes || storage key)[:16]."""
    return TokenKey(key).minter(partner, request_id).token(storage_key)


def token_matches(key: bytes, partner: str, request_id: str, storage_key: bytes, token: bytes) -> bool:
    """Whether `token` is the one the server gave `partner` for `storage_key` in answer `request_id`
    (compared in constant time)."""
    if len(token) != TOKEN_BYTES or len(storage_key) != KEY_SIZE or not REQUEST_ID_PATTERN.fullmatch(request_id):
        return False
    return hmac.compare_digest(hit_token(key, partner, request_id, storage_key), token)


@dataclass(frozen=True, slots=True)
class OutcomeWindow:
    """How long after an answer its hits may be graded, and the clock skew allowed the other way."""

    seconds: int
    skew_seconds: int = CLOCK_SKEW_SECONDS

    @property
    def days(self) -> float:
        return self.seconds / 86_400

    def admits(self, request_id: str, now: int) -> bool:
        """Whether the answer `request_id` (well-formed) was issued no more than the window before `now`,
        and not after `now` plus the allowed skew."""
        issued = issued_at(request_id)
        return now - self.seconds <= issued <= now + self.skew_seconds
