"""docs/security.md states the code's own parameters: digest size, filter layout, defaults and what a delta pins."""

from __future__ import annotations

import math

from risklist_kernel.bloom import BITS_PER_MASK, MASK_INDEX_BITS, expected_false_positive_rate, words_for
from risklist_kernel.digest import DIGEST_SIZE, KEY_SIZE
from risklist_kernel.secret import MAX_SECRET_BYTES, MIN_SECRET_BYTES
from risklist_server.core.settings import Settings
from tests.support.paths import REPO

DOC = (REPO / "docs" / "security.md").read_text()


def test_the_parameter_table_is_the_codes() -> None:
    """Digest width, secret length, key layout, mask shape and the filter's default size are as the code has them."""
    assert f"keyed BLAKE2b, {DIGEST_SIZE * 8} bits" in DOC
    assert f"{MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes" in DOC
    assert f"1 type byte + the {KEY_SIZE - 1}-byte digest" in DOC
    assert f"one of {2**MASK_INDEX_BITS:,} masks of {BITS_PER_MASK} bits" in DOC
    assert f"`filter_bits_per_key` (default {Settings().filter_bits_per_key})" in DOC


def test_the_delta_table_follows_from_the_filter_layout() -> None:
    """Each row's word count and pinned bits are what words_for gives at 16 and 8 bits per key."""
    for keys in (10_000_000, 100_000_000, 3_000_000_000):
        word_bits = int(math.log2(words_for(keys, 16)))
        small_word_bits = int(math.log2(words_for(keys, 8)))
        row = (f"| {keys:,} | 2^{word_bits} | {word_bits + MASK_INDEX_BITS} | "
               f"{small_word_bits + MASK_INDEX_BITS} |")
        assert row in DOC, row


def test_the_false_positive_rates_quoted_are_the_estimates() -> None:
    """The rates quoted for 10M keys at 16 and 8 bits per key round to the layout's expected rates."""
    at_16 = expected_false_positive_rate(words_for(10_000_000, 16), 10_000_000)
    at_8 = expected_false_positive_rate(words_for(10_000_000, 8), 10_000_000)
    assert f"10M keys, {at_16:.2%} at 16 bits per key and {at_8:.1%} at 8" in DOC
