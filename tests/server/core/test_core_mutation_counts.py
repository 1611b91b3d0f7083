"""The one counting rule: how an applied mutation counts as added, unchanged, removed or not listed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import (
    Mutation,
    MutationCounts,
    Removal,
    Upsert,
    apply_all_counted,
    apply_counted,
    apply_mutation,
)
from risklist_server.core.record import Contribution, Record

KEY = b"\x01" * 17
SOURCES = ["bank-a", "bank-b"]

contributions = st.builds(
    Contribution,
    source=st.sampled_from(SOURCES),
    category=st.sampled_from([Category.GAMBLING, Category.MONEY_MULE]),
    level=st.sampled_from([RiskLevel.LOW, RiskLevel.HIGH]),
    reported_at=st.just(1),
    expires_at=st.just(2_000_000_000),
)
mutations: st.SearchStrategy[Mutation] = st.one_of(
    st.builds(Upsert, key=st.just(KEY), contribution=contributions),
    st.builds(Removal, key=st.just(KEY), source=st.sampled_from(SOURCES),
              category=st.none() | st.sampled_from([Category.GAMBLING, Category.MONEY_MULE])),
)


@given(st.lists(mutations, max_size=12))
def test_counts_follow_what_each_mutation_did_to_the_record(steps: list[Mutation]) -> None:
    """An upsert is added unless the exact contribution was stored; a removal counts what it took, or not listed."""
    counts = MutationCounts()
    expected = MutationCounts()
    record: Record = ()
    for mutation in steps:
        if isinstance(mutation, Upsert):
            if mutation.contribution in record:
                expected.unchanged += 1
            else:
                expected.added += 1
        else:
            matching = [c for c in record if c.source == mutation.source
                        and mutation.category in (None, c.category)]
            expected.removed += len(matching)
            expected.not_listed += not matching
        updated = apply_counted(record, mutation, counts)
        assert updated == apply_mutation(record, mutation)
        record = updated
    assert counts == expected


def test_an_updated_contribution_counts_as_added() -> None:
    """Changing a stored contribution's level is an add (the feed's row took effect), not unchanged."""
    low = Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, 2_000_000_000)
    high = Contribution("bank-a", Category.GAMBLING, RiskLevel.HIGH, 1, 2_000_000_000)
    counts = MutationCounts()
    assert apply_counted((low,), Upsert(KEY, high), counts) == (high,)
    assert counts == MutationCounts(added=1)


def _step_counts(record: Record, steps: list[Mutation]) -> MutationCounts:
    """Each mutation counted on its own, one after another."""
    counts = MutationCounts()
    for mutation in steps:
        record = apply_counted(record, mutation, counts)
    return counts


@given(st.lists(contributions, max_size=4, unique_by=lambda c: c.identity).map(lambda cs: tuple(sorted(cs))),
       st.lists(mutations, max_size=10))
def test_one_write_counts_each_mutation_unless_it_puts_back_what_a_removal_took(
    before: Record, steps: list[Mutation]
) -> None:
    """A write's record is its mutations' in order; its counts are theirs one by one, except where an upsert
    restores exactly what an earlier removal of the write took (then: unchanged, and not removed)."""
    counts = MutationCounts()
    after = apply_all_counted(before, steps, counts)
    record = before
    restores = False
    taken: set[Contribution] = set()
    for mutation in steps:
        updated = apply_mutation(record, mutation)
        if isinstance(mutation, Upsert):
            restores |= mutation.contribution in taken and mutation.contribution not in record
        else:
            taken |= set(record) - set(updated)
        record = updated
    assert after == record
    step = _step_counts(before, steps)
    assert counts.added + counts.unchanged == step.added + step.unchanged
    if not restores:
        assert counts == step
    else:
        assert counts.unchanged > step.unchanged and counts.removed < step.removed


@given(st.lists(contributions, max_size=4, unique_by=lambda c: c.identity).map(lambda cs: tuple(sorted(cs))),
       st.sampled_from(SOURCES), st.booleans(), st.lists(contributions, max_size=2, unique_by=lambda c: c.category),
       st.lists(st.sampled_from([Category.GAMBLING, Category.MONEY_MULE]), max_size=2, unique=True))
def test_a_feeds_last_words_count_what_changed_between_before_and_after(
    before: Record, source: str, remove_all: bool, adds: list[Contribution], removes: list[Category]
) -> None:
    """A source's last word per category (a remove of every category first, then at most one row per category)
    counts each add as unchanged exactly when it was stored, and each stored contribution a removal matched and that is
    not there after as removed."""
    adds = [Contribution(source, c.category, c.level, c.reported_at, c.expires_at) for c in adds]
    removes = [category for category in removes if category not in {c.category for c in adds}]
    steps: list[Mutation] = [Removal(KEY, source)] if remove_all else []
    steps += [Upsert(KEY, contribution) for contribution in adds]
    steps += [Removal(KEY, source, category) for category in removes]
    counts = MutationCounts()
    after = apply_all_counted(before, steps, counts)
    assert counts.unchanged == sum(contribution in before for contribution in adds)
    assert counts.added == sum(contribution not in before for contribution in adds)
    assert counts.removed == len([c for c in before if c.source == source and c not in after
                                  and (remove_all or c.category in removes)])
    if not steps:
        assert after == before
