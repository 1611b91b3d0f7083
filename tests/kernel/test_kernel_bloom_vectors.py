"""The rl1-blocked-bloom layout pinned by vectors, so another language's implementation can be checked against it."""

from __future__ import annotations

import hashlib

from risklist_kernel.bloom import BlockedBloom, mask_table

FIRST_MASKS = [0x1085048060000, 0x1040610A40000, 0xA804000408402000]
LAST_MASK = 0x810010001480280


def test_mask_table_vectors() -> None:
    """The first three masks and the last one are as docs/client.md derives them, each with 8 bits."""
    masks = mask_table()
    assert list(masks[:3]) == FIRST_MASKS and masks[65535] == LAST_MASK
    assert all(bin(mask).count("1") == 8 for mask in masks)


def test_every_mask_is_the_one_docs_client_md_derives() -> None:
    """All 65,536 masks equal the derivation as docs/client.md words it (a set of positions, taken in order)."""
    for index, mask in enumerate(mask_table()):
        seed = hashlib.blake2b(index.to_bytes(4, "little"), digest_size=32, person=b"rl1:front").digest()
        positions: set[int] = set()
        for byte in seed:
            if len(positions) == 8:
                break
            positions.add(byte & 63)
        assert mask == sum(1 << position for position in positions), index


def test_probe_picks_word_and_mask_from_key_bytes() -> None:
    """Bytes 1-8 (little-endian) masked by word_count-1 pick the word; bytes 9-10 pick the mask."""
    key = bytes([3]) + (5).to_bytes(8, "little") + (2).to_bytes(2, "little") + bytes(6)
    bloom = BlockedBloom(1024)
    bloom.add(key)
    words = bloom.to_bytes()
    assert int.from_bytes(words[5 * 8 : 6 * 8], "little") == FIRST_MASKS[2]
    assert sum(words) == sum(FIRST_MASKS[2].to_bytes(8, "little"))
    assert bloom.might_contain(key)
