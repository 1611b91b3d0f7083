"""The one counting rule: how an applied mutation counts as added, unchanged, removed or not listed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Mutation, MutationCounts, Removal, Upsert, apply_counted, apply_mutation
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
