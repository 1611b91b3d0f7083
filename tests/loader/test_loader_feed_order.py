"""risklist_loader.feed_order: the feed's last word per subject and category, decided for all rows at once."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_loader.feed_order import APPLY, REPEATED, SUPERSEDED, decide_subject, order_rows
from risklist_loader.spool import ADD, EXPIRED, REMOVE

KEYS = [b"\x01" + bytes(15) + b"\x07", b"\x02" * 8 + b"\x09" * 9, b"\x02" * 8 + b"\x08" * 9, b"\x03" * 17]
"""Four subjects; two share their first eight bytes, so the sort must look further to tell them apart."""


class Row(NamedTuple):
    key: bytes
    action: int
    category: int
    tail: bytes


rows_strategy = st.lists(
    st.builds(
        lambda key, kind, category, tail: Row(key, kind, 0 if kind == 0 else category,
                                              b"" if kind in (0, REMOVE) else bytes((category, tail)) * 9),
        st.sampled_from(KEYS),
        st.sampled_from([ADD, ADD, EXPIRED, REMOVE, 0]),  # 0: a remove of every category
        st.integers(1, 3),
        st.integers(1, 2),
    ).map(lambda row: row._replace(action=REMOVE) if row.action == 0 else row),
    max_size=40,
)


def decided(rows: list[Row]) -> tuple[list[int], list[int], list[int]]:
    """order_rows on the rows: (order, fates, held positions)."""
    keys = np.array([row.key for row in rows], dtype="S17")
    actions = np.array([row.action for row in rows], dtype=np.uint8)
    categories = np.array([row.category for row in rows], dtype=np.uint8)
    found = order_rows(keys, actions, categories, lambda first, second: rows[first].tail == rows[second].tail)
    return found.order.tolist(), found.fate.tolist(), found.held.tolist()


def apply_rows(rows: list[Row], positions: list[int]) -> dict[tuple[bytes, int], bytes]:
    """One source's listings after the rows at `positions`, one by one in that order: an add lists its category,
    an expired add or a remove ends it, a remove without a category ends every one of its subject."""
    listed: dict[tuple[bytes, int], bytes] = {}
    for position in positions:
        row = rows[position]
        if row.action == ADD:
            listed[row.key, row.category] = row.tail
        elif row.category:
            listed.pop((row.key, row.category), None)
        else:
            for slot in [slot for slot in listed if slot[0] == row.key]:
                del listed[slot]
    return listed


@settings(max_examples=300, deadline=None)
@given(rows_strategy)
def test_vectorised_fates_are_the_per_subject_rule(rows: list[Row]) -> None:
    """Pairs decided with numpy and longer runs decided in Python give what decide_subject gives per subject."""
    _, fates, held = decided(rows)
    expected = np.zeros(len(rows), dtype=np.uint8)
    expected_held: list[int] = []
    for key in KEYS:
        decide_subject([p for p, row in enumerate(rows) if row.key == key],
                       np.array([row.action for row in rows], dtype=np.uint8),
                       np.array([row.category for row in rows], dtype=np.uint8),
                       lambda first, second: rows[first].tail == rows[second].tail, expected, expected_held)
    assert fates == expected.tolist()
    assert held == sorted(expected_held)


@settings(max_examples=300, deadline=None)
@given(rows_strategy, st.dictionaries(st.tuples(st.sampled_from(KEYS), st.integers(1, 3)),
                                      st.sampled_from([b"\x01" * 18, b"\x02" * 18]), max_size=6))
def test_the_last_words_leave_what_every_row_in_file_order_leaves(
    rows: list[Row], before: dict[tuple[bytes, int], bytes]
) -> None:
    """Applying only the applied rows, in feed order, ends where applying every row one by one does, whatever
    was listed before; applying them again changes nothing; repeated and superseded rows are the rest."""
    _, fates, held = decided(rows)
    applied = [position for position, fate in enumerate(fates) if fate == APPLY]
    every = apply_rows(rows, list(range(len(rows))))
    prior = [Row(key, ADD, category, tail) for (key, category), tail in before.items()]
    with_prior = prior + rows
    offset = len(prior)
    assert apply_rows(with_prior, list(range(len(with_prior)))) == apply_rows(
        with_prior, list(range(offset)) + [offset + p for p in applied])
    assert apply_rows(rows, applied) == every
    assert apply_rows(rows, applied + applied) == every
    assert set(fates) <= {APPLY, REPEATED, SUPERSEDED}
    assert set(held) <= set(applied)
    for position in held:  # a held row waits for a later applied row of its subject
        assert any(later > position and rows[later].key == rows[position].key for later in applied)


def test_each_subject_and_category_keeps_one_applied_row_after_its_last_remove_of_everything() -> None:
    """Per subject: at most one applied remove of every category, before at most one applied row per category."""
    key = KEYS[0]
    rows = [Row(key, ADD, 1, b"a"), Row(key, REMOVE, 0, b""), Row(key, ADD, 2, b"b"), Row(key, ADD, 2, b"b"),
            Row(key, ADD, 2, b"c"), Row(key, EXPIRED, 3, b"d"), Row(key, REMOVE, 3, b""), Row(key, REMOVE, 3, b"")]
    _, fates, held = decided(rows)
    assert fates == [SUPERSEDED, APPLY, SUPERSEDED, REPEATED, APPLY, SUPERSEDED, APPLY, REPEATED]
    assert held == [1, 4]


@given(rows_strategy)
def test_order_is_key_bytes_then_feed_order(rows: list[Row]) -> None:
    """The bulk path's order: storage key bytes ascending, rows of one key in feed order."""
    order, _, _ = decided(rows)
    assert [(rows[p].key, p) for p in order] == sorted((row.key, p) for p, row in enumerate(rows))
