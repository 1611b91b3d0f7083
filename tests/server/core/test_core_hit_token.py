"""Request ids that carry their issue time, and outcome tokens bound to member, answer and subject."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from risklist_server.core.hit_token import (
    MAX_ISSUED_AT,
    REQUEST_ID_PATTERN,
    OutcomeWindow,
    TokenKey,
    encode_request_id,
    hit_token,
    issued_at,
    token_matches,
)

seconds = st.integers(0, MAX_ISSUED_AT)
nonces = st.binary(min_size=8, max_size=8)
keys = st.binary(min_size=32, max_size=32)
partners = st.text(min_size=1, max_size=64)
storage_keys = st.binary(min_size=17, max_size=17)
request_ids = st.builds(encode_request_id, seconds, nonces)


@given(seconds, nonces)
def test_a_request_id_carries_its_issue_time(issued: int, nonce: bytes) -> None:
    """Every request id is 24 lower-case hex characters, its first 4 bytes the issue second, then the nonce."""
    request_id = encode_request_id(issued, nonce)
    assert REQUEST_ID_PATTERN.fullmatch(request_id)
    assert issued_at(request_id) == issued
    assert bytes.fromhex(request_id) == issued.to_bytes(4, "big") + nonce


@pytest.mark.parametrize(("issued", "nonce"), [(-1, bytes(8)), (2**32, bytes(8)), (0, bytes(7)), (0, bytes(9))])
def test_request_ids_refuse_what_does_not_fit(issued: int, nonce: bytes) -> None:
    """A time outside 32 bits or a nonce of another length is a ValueError, never a longer id."""
    with pytest.raises(ValueError):
        encode_request_id(issued, nonce)


@given(keys, partners, request_ids, storage_keys)
def test_the_token_is_hmac_sha256_of_partner_request_id_and_key(
    key: bytes, partner: str, request_id: str, storage_key: bytes
) -> None:
    """The token is HMAC-SHA256(key, partner || request id bytes || storage key) cut to 16 bytes, as docs/api.md
    says, and verifies; one minter per answer gives the same token as a one-off call."""
    expected = hmac.new(key, partner.encode() + bytes.fromhex(request_id) + storage_key,
                        hashlib.sha256).digest()[:16]
    assert hit_token(key, partner, request_id, storage_key) == expected
    assert TokenKey(key).minter(partner, request_id).token(storage_key) == expected
    assert token_matches(key, partner, request_id, storage_key, expected)


@given(keys, partners, request_ids, storage_keys, st.data())
def test_a_token_proves_nothing_else(
    key: bytes, partner: str, request_id: str, storage_key: bytes, data: st.DataObject
) -> None:
    """Another key, member, answer or subject, or a cut token, does not verify."""
    token = hit_token(key, partner, request_id, storage_key)
    other_key = data.draw(keys.filter(lambda k: k != key))
    other_partner = data.draw(partners.filter(lambda p: p != partner))
    other_request = data.draw(request_ids.filter(lambda r: r != request_id))
    other_subject = data.draw(storage_keys.filter(lambda s: s != storage_key))
    assert not token_matches(other_key, partner, request_id, storage_key, token)
    assert not token_matches(key, other_partner, request_id, storage_key, token)
    assert not token_matches(key, partner, other_request, storage_key, token)
    assert not token_matches(key, partner, request_id, other_subject, token)
    assert not token_matches(key, partner, request_id, storage_key, token[:15])
    assert not token_matches(key, partner, request_id, storage_key, b"")


@given(keys, partners, request_ids, storage_keys)
def test_malformed_request_ids_and_keys_never_verify(
    key: bytes, partner: str, request_id: str, storage_key: bytes
) -> None:
    """Upper-case hex, or a storage key of another length, is refused before any MAC is compared."""
    token = hit_token(key, partner, request_id, storage_key)
    assume(request_id.upper() != request_id)
    assert not token_matches(key, partner, request_id.upper(), storage_key, token)
    assert not token_matches(key, partner, request_id, storage_key[:16], token)


def test_the_window_admits_from_its_length_ago_to_the_skew_ahead() -> None:
    """Issued exactly `seconds` ago or up to the skew ahead: admitted; a second beyond either edge: refused."""
    window, now = OutcomeWindow(30 * 86_400, skew_seconds=300), 2_000_000_000
    admitted = {offset: window.admits(encode_request_id(now + offset, bytes(8)), now)
                for offset in (-30 * 86_400 - 1, -30 * 86_400, 0, 300, 301)}
    assert admitted == {-30 * 86_400 - 1: False, -30 * 86_400: True, 0: True, 300: True, 301: False}
    assert window.days == 30


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_an_outcome_key_is_32_bytes(length: int) -> None:
    """A key of any other length is a ValueError, never a weaker MAC."""
    with pytest.raises(ValueError, match="outcome key has 32 bytes"):
        TokenKey(bytes(length))
