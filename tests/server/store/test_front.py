"""The Bloom front: no false negatives, batch agrees with single, a sane false-positive rate."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.bloom import mask_table, words_for
from risklist_server.store.front import BloomFront

storage_keys = st.binary(min_size=16, max_size=16).map(lambda digest: b"\x01" + digest)


@settings(max_examples=60)
@given(st.lists(storage_keys, max_size=300), st.lists(storage_keys, max_size=300))
def test_every_added_key_is_reported_present(added: list[bytes], others: list[bytes]) -> None:
    """might_contain and might_contain_many say yes for every added key, and agree on all keys."""
    front = BloomFront(1024)
    front.add_many(added)
    assert all(front.might_contain(key) for key in added)
    assert front.might_contain_many(added).all()
    probe = added + others
    assert front.might_contain_many(probe).tolist() == [front.might_contain(k) for k in probe]


def test_false_positive_rate_is_under_one_percent_at_capacity() -> None:
    """Sized for N keys and holding N, the front lets fewer than 1% of absent keys through."""
    capacity = 50_000
    front = BloomFront.for_capacity(capacity)
    front.add_many([b"\x02" + os.urandom(16) for _ in range(capacity)])
    absent = [b"\x02" + os.urandom(16) for _ in range(50_000)]
    assert front.might_contain_many(absent).mean() < 0.01


def test_masks_have_exactly_k_bits_and_are_stable() -> None:
    """Every mask sets 8 bits, and the table is the same on every machine (derived from BLAKE2b)."""
    masks = mask_table()
    assert len(masks) == 65_536 and all(bin(mask).count("1") == 8 for mask in masks)
    assert masks[0] == mask_table()[0] and masks[:2] == (masks[0], masks[1])


def test_word_count_is_a_power_of_two_with_enough_bits() -> None:
    """Sizing rounds up to a power of two giving at least the requested bits per key."""
    for capacity in (1, 1000, 123_456, 10_000_000):
        words = words_for(capacity, 16)
        assert words & (words - 1) == 0 and words * 64 >= capacity * 16


def test_bytes_round_trip() -> None:
    """A front rebuilt from its bytes answers exactly as the original."""
    front = BloomFront(2048)
    keys = [b"\x03" + os.urandom(16) for _ in range(500)]
    front.add_many(keys)
    copy = BloomFront(2048, front.to_bytes(), front.added)
    probe = keys + [b"\x03" + os.urandom(16) for _ in range(500)]
    assert copy.might_contain_many(probe).tolist() == front.might_contain_many(probe).tolist()
