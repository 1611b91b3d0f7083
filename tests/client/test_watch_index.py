"""KeyIndex against a plain set: never a false negative, whatever is built, added and asked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risklist_client.watch_index import KeyIndex, prefix_of
from risklist_kernel.digest import KEY_SIZE

KEYS = st.binary(min_size=KEY_SIZE, max_size=KEY_SIZE)
"""Random storage keys; a shared first byte (the entity type) is frequent enough through the shrinker."""
NEAR = st.builds(lambda head, tail: head + tail, st.binary(min_size=8, max_size=8).map(lambda b: b[:2] * 4),
                 st.binary(min_size=9, max_size=9))
"""Keys that often share their first 8 bytes, so prefix collisions are exercised."""


@given(st.lists(KEYS | NEAR, max_size=60), st.lists(KEYS | NEAR, max_size=30), st.lists(KEYS | NEAR, max_size=30))
def test_the_index_holds_every_key_built_or_added_and_among_agrees_with_might_hold(
    built: list[bytes], added: list[bytes], probes: list[bytes]
) -> None:
    """Every built or added key is found (alone and in a concatenation); a key it holds is one whose 8-byte prefix
    some watched key has."""
    index = KeyIndex(sorted(set(built)))
    for key in added:
        index.add(key)
    watched = set(built) | set(added)
    asked = [*probes, *watched]
    assert all(index.might_hold(key) for key in watched)
    found = index.among(b"".join(asked), KEY_SIZE)
    assert found == [key for key in asked if index.might_hold(key)]
    prefixes = {prefix_of(key) for key in watched}
    assert all(index.might_hold(key) == (prefix_of(key) in prefixes) for key in asked)


@given(st.lists(KEYS, min_size=1, max_size=40))
def test_a_rebuild_folds_the_overlay_into_the_array(keys: list[bytes]) -> None:
    """After rebuild from the sorted keys, the overlay is empty, each distinct prefix takes 8 bytes, all are found."""
    index = KeyIndex()
    for key in keys:
        index.add(key)
    index.rebuild(sorted(set(keys)))
    assert index.overlay_size == 0 and index.size_bytes == 8 * len({prefix_of(key) for key in keys})
    assert all(index.might_hold(key) for key in keys)


def test_keys_out_of_order_are_refused() -> None:
    """rebuild needs ascending keys (what SQLite's key order gives): anything else is a ValueError, not a miss."""
    with pytest.raises(ValueError, match="ascending"):
        KeyIndex([b"\x02" * KEY_SIZE, b"\x01" * KEY_SIZE])
