"""The batch path's batches: the applied rows of an ordered feed as mutations, in key order, `size` at a time.

Rows of different subjects are independent (each takes its own last word, risklist_loader.feed_order),
so key order leaves what feed order would. A `held` row waits for the next applied row of its
subject, which follows it directly in key order, and goes into the same batch: a group is never
split, so a batch holds more than `size` mutations only when one group alone is longer.
"""

from __future__ import annotations

from collections.abc import Iterator

from risklist_kernel.enums import Category
from risklist_loader.ordering import OrderedFeed, iter_ordered
from risklist_loader.spool import ADD, Batch, key_list
from risklist_server.core.mutation import Mutation, Removal, Upsert
from risklist_server.core.record import contribution_from_tail


def ordered_batches(feed: OrderedFeed, source: str, size: int) -> Iterator[Batch]:
    """The feed's applied rows as batches of mutations for `source` (an EXPIRED add is a removal of its category)."""
    number = 0
    mutations: list[Mutation] = []
    lines: list[int] = []
    group: list[Mutation] = []
    group_lines: list[int] = []
    for bucket in iter_ordered(feed):
        rows = bucket.rows
        keys, actions, categories = key_list(rows["key"]), rows["action"].tolist(), rows["category"].tolist()
        row_lines, held = rows["line"].tolist(), rows["held"].tolist()
        for position, key in enumerate(keys):
            action, category = actions[position], categories[position]
            mutation: Mutation
            if action == ADD:
                mutation = Upsert(key, contribution_from_tail(source, bucket.tail(position)))
            else:
                mutation = Removal(key, source, Category(category) if category else None)
            group.append(mutation)
            group_lines.append(row_lines[position])
            if held[position]:
                continue
            if mutations and len(mutations) + len(group) > size:
                number += 1
                yield Batch(number, min(lines), max(lines), mutations)
                mutations, lines = [], []
            mutations.extend(group)
            lines.extend(group_lines)
            group, group_lines = [], []
            if len(mutations) >= size:
                number += 1
                yield Batch(number, min(lines), max(lines), mutations)
                mutations, lines = [], []
    mutations.extend(group)  # held rows whose group never closed (not made by feed_order): still applied
    lines.extend(group_lines)
    if mutations:
        yield Batch(number + 1, min(lines), max(lines), mutations)
