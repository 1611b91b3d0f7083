"""apply_mutation and the snapshot sweep against a dict model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Mutation, Removal, Upsert, apply_mutation, without_source_except
from risklist_server.core.record import Contribution

KEY = bytes(17)
SOURCES = st.sampled_from(["east-harbour-bank", "jade-river-bank", "north-plains-credit"])
CATEGORIES = st.sampled_from(list(Category))
CONTRIBUTIONS = st.builds(
    Contribution,
    source=SOURCES,
    category=CATEGORIES,
    level=st.sampled_from(list(RiskLevel)),
    reported_at=st.integers(0, 100),
    expires_at=st.integers(100, 200),
    reference=st.sampled_from(["", "EHB-1", "JRB-2"]),
)
MUTATIONS: st.SearchStrategy[Mutation] = st.one_of(
    st.builds(Upsert, key=st.just(KEY), contribution=CONTRIBUTIONS),
    st.builds(Removal, key=st.just(KEY), source=SOURCES, category=st.none() | CATEGORIES),
)

Model = dict[tuple[str, Category], Contribution]


def model_apply(model: Model, mutation: Mutation) -> Model:
    """The plain-dict meaning: upsert replaces (source, category); removal drops matches."""
    after = dict(model)
    if isinstance(mutation, Upsert):
        after[mutation.contribution.identity] = mutation.contribution
    else:
        for source, category in list(after):
            if source == mutation.source and mutation.category in (None, category):
                del after[(source, category)]
    return after


@settings(max_examples=200, deadline=None)
@given(mutations=st.lists(MUTATIONS, max_size=20))
def test_apply_mutation_matches_a_dict_model(mutations: list[Mutation]) -> None:
    """Any sequence of mutations gives the model's contributions, sorted by (source, category)."""
    record: tuple[Contribution, ...] = ()
    model: Model = {}
    for mutation in mutations:
        record = apply_mutation(record, mutation)
        model = model_apply(model, mutation)
        assert record == tuple(sorted(model.values()))
        assert len({c.identity for c in record}) == len(record)


@settings(max_examples=100, deadline=None)
@given(mutations=st.lists(MUTATIONS, max_size=10), last=MUTATIONS)
def test_reapplying_a_mutation_is_a_no_op(mutations: list[Mutation], last: Mutation) -> None:
    """Applying the same mutation twice equals applying it once (re-running a feed is a no-op)."""
    record: tuple[Contribution, ...] = ()
    for mutation in mutations:
        record = apply_mutation(record, mutation)
    once = apply_mutation(record, last)
    assert apply_mutation(once, last) == once


def test_removing_what_is_not_listed_changes_nothing() -> None:
    """A removal for a source or category that is absent leaves the record equal."""
    record = (Contribution("jade-river-bank", Category.GAMBLING, RiskLevel.LOW, 1, 2),)
    assert apply_mutation(record, Removal(KEY, "east-harbour-bank")) == record
    assert apply_mutation(record, Removal(KEY, "jade-river-bank", Category.OTHER)) == record
    assert apply_mutation(record, Removal(KEY, "jade-river-bank")) == ()


@settings(max_examples=100, deadline=None)
@given(
    record=st.lists(CONTRIBUTIONS, max_size=8, unique_by=lambda c: c.identity).map(
        lambda items: tuple(sorted(items))
    ),
    source=SOURCES,
    kept=st.frozensets(CATEGORIES),
)
def test_snapshot_sweep_only_touches_the_source(
    record: tuple[Contribution, ...], source: str, kept: frozenset[Category]
) -> None:
    """The sweep drops the source's categories outside `kept` and leaves other sources alone."""
    swept = without_source_except(record, source, kept)
    assert swept == tuple(c for c in record if c.source != source or c.category in kept)
    assert [c for c in swept if c.source != source] == [c for c in record if c.source != source]
