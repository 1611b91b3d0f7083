"""RiskStore against a plain dict model, across reopenings, with the changelog and the front."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.errors import StoreError
from risklist_server.core.mutation import Mutation, Removal, Upsert, apply_mutation
from risklist_server.core.record import Contribution, Record
from risklist_server.store.front_file import SavedFront, load_front, save_front
from risklist_server.store.reads import FRONT_FILE, FrontPolicy
from risklist_server.store.risk_store import RiskStore
from risklist_server.store.store_id import front_owner_of_store

KEYS = [bytes((1 + n % 7,)) + bytes([n]) * 16 for n in range(12)]
SOURCES = ["bank-a", "bank-b", "bank-c"]

contributions = st.builds(
    Contribution,
    source=st.sampled_from(SOURCES),
    category=st.sampled_from(list(Category)),
    level=st.sampled_from(list(RiskLevel)),
    reported_at=st.integers(1_600_000_000, 1_700_000_000),
    expires_at=st.integers(1_700_000_001, 2_000_000_000),
    reference=st.text(max_size=8),
)
mutations: st.SearchStrategy[Mutation] = st.one_of(
    st.builds(Upsert, key=st.sampled_from(KEYS), contribution=contributions),
    st.builds(Removal, key=st.sampled_from(KEYS), source=st.sampled_from(SOURCES),
              category=st.none() | st.sampled_from(list(Category))),
)
# A program: batches of mutations, with "reopen" markers between some of them.
programs = st.lists(st.one_of(st.lists(mutations, min_size=1, max_size=6), st.just("reopen")), max_size=12)


def _open(path: Path, policy: FrontPolicy | None = None) -> RiskStore:
    return RiskStore(path, create=True, secret_fingerprint="test", front_policy=policy or FrontPolicy())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_store_matches_dict_model_across_reopens(program: list[list[Mutation] | str]) -> None:
    """Every key reads back as the model says after any sequence of batches and reopenings."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "db"
        model: dict[bytes, Record] = {}
        store = _open(path)
        try:
            for step in program:
                if step == "reopen":
                    store.close()
                    store = _open(path)
                    continue
                assert isinstance(step, list)
                store.apply(step)
                for mutation in step:
                    model[mutation.key] = apply_mutation(model.get(mutation.key, ()), mutation)
                for key in KEYS:
                    assert (store.lookup(key) or ()) == model.get(key, ())
            assert [r or () for r in store.lookup_many(KEYS)] == [model.get(k, ()) for k in KEYS]
            assert dict(store.iter_records()) == {k: v for k, v in model.items() if v}
        finally:
            store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs, st.integers(0, 12))
def test_front_never_false_negative_after_restart_and_catch_up(
    program: list[list[Mutation] | str], stale_after: int
) -> None:
    """A front persisted mid-history and caught up from the changelog still holds every listed key."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "db"
        store = _open(path)
        stale: tuple[bytes, int] | None = None
        for number, step in enumerate(program):
            if number == stale_after:
                stale = (store.front.words_view().tobytes(), store.version)
            if isinstance(step, list):
                store.apply(step)
        listed = [key for key, _ in store.iter_records()]
        front_bytes_words = store.front.word_count
        store.close()
        if stale is not None:  # put back an older front, as if the last persist was long ago
            owner = front_owner_of_store(path, "test")
            assert isinstance(load_front(path / FRONT_FILE, owner), SavedFront)
            from risklist_server.store.front import BloomFront

            save_front(path / FRONT_FILE, BloomFront(front_bytes_words, stale[0]), stale[1], owner)
        reopened = _open(path)
        try:
            assert all(reopened.front.might_contain(key) for key in listed)
            assert reopened.front.might_contain_many(listed).all()
            assert all(reopened.lookup(key) for key in listed)
        finally:
            reopened.close()


def test_reapplying_the_same_batch_is_a_no_op(tmp_path: Path) -> None:
    """A second identical apply changes nothing and writes no changelog entry."""
    store = _open(tmp_path / "db")
    contribution = Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, 2_000_000_000)
    first = store.apply([Upsert(KEYS[0], contribution)])
    version = store.version
    second = store.apply([Upsert(KEYS[0], contribution)])
    assert (first.added, second.added, second.unchanged) == (1, 0, 1)
    assert store.version == version
    store.close()


def test_changelog_names_every_changed_key_in_order(tmp_path: Path) -> None:
    """Each write that changes records adds one changelog entry saying which keys and whether listed."""
    store = _open(tmp_path / "db")
    contribution = Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, 2_000_000_000)
    store.apply([Upsert(KEYS[0], contribution), Upsert(KEYS[1], contribution)])
    store.apply([Removal(KEYS[0], "bank-a"), Removal(KEYS[5], "bank-a")])
    entries = list(store.changes_since(0))
    assert [sequence for sequence, _ in entries] == [1, 2]
    assert [(c.key, c.listed) for c in entries[0][1]] == [(KEYS[0], True), (KEYS[1], True)]
    assert [(c.key, c.listed) for c in entries[1][1]] == [(KEYS[0], False)]
    assert list(store.changes_since(1))[0][0] == 2
    store.close()


def test_removing_what_is_not_listed_is_counted(tmp_path: Path) -> None:
    """A removal matching nothing counts as not_listed and writes nothing."""
    store = _open(tmp_path / "db")
    result = store.apply([Removal(KEYS[3], "bank-a")])
    assert (result.not_listed, result.removed, store.version) == (1, 0, 0)
    store.close()


def test_snapshot_sweep_removes_only_that_sources_unseen_contributions(tmp_path: Path) -> None:
    """After a snapshot, the source holds exactly what it re-sent; other sources keep theirs."""
    store = _open(tmp_path / "db")
    mine = Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, 2_000_000_000)
    theirs = Contribution("bank-b", Category.GAMBLING, RiskLevel.HIGH, 1, 2_000_000_000)
    store.apply([Upsert(KEYS[0], mine), Upsert(KEYS[1], mine), Upsert(KEYS[1], theirs)])
    store.begin_snapshot("bank-a")
    store.apply([Upsert(KEYS[0], mine)], snapshot_source="bank-a")
    assert store.sweep_snapshot("bank-a") == 1
    assert store.lookup(KEYS[0]) == (mine,)
    assert store.lookup(KEYS[1]) == (theirs,)
    store.close()


def test_wrong_secret_is_refused(tmp_path: Path) -> None:
    """A store built under one secret refuses to open under another, saying why."""
    _open(tmp_path / "db").close()
    try:
        RiskStore(tmp_path / "db", create=True, secret_fingerprint="other")
    except StoreError as error:
        assert "another network secret" in str(error)
    else:
        raise AssertionError("opened with the wrong secret")


def test_held_store_is_a_clear_error(tmp_path: Path) -> None:
    """A second opener gets a message naming the cause and what to do."""
    first = _open(tmp_path / "db")
    try:
        _open(tmp_path / "db")
    except StoreError as error:
        assert "held by another process" in str(error) and "--server" in str(error)
    else:
        raise AssertionError("opened a held store")
    finally:
        first.close()


def test_corrupt_front_file_is_rebuilt(tmp_path: Path) -> None:
    """A damaged persisted front is ignored and rebuilt from the records, losing no key."""
    store = _open(tmp_path / "db")
    contribution = Contribution("bank-a", Category.OTHER, RiskLevel.LOW, 1, 2_000_000_000)
    store.apply([Upsert(key, contribution) for key in KEYS])
    store.close()
    front_file = tmp_path / "db" / FRONT_FILE
    data = bytearray(front_file.read_bytes())
    data[-1] ^= 0xFF
    front_file.write_bytes(bytes(data))
    assert load_front(front_file, front_owner_of_store(tmp_path / "db", "test")) == "checksum mismatch (damaged)"
    reopened = _open(tmp_path / "db")
    assert all(reopened.front.might_contain(key) for key in KEYS)
    reopened.close()


def test_filters_and_indexes_stay_in_memory_with_their_tables(tmp_path: Path) -> None:
    """Every table's Bloom filter (10 bits/key) is held with the open table, never re-read per lookup.

    Kept in the block cache instead, a bulk-built table's one large filter block did not fit
    a cache shard and was read again on every lookup (0.5 ms per missed get at 10M entries).
    """
    keys = [bytes((1,)) + n.to_bytes(16, "big") for n in range(50_000)]
    contribution = Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, 1_700_000_000, 2_000_000_000, "")
    with _open(tmp_path / "db") as store:
        store.apply([Upsert(key, contribution) for key in keys])
        store.flush()
        held = store._db.property_int_value("rocksdb.estimate-table-readers-mem") or 0
    assert held >= len(keys) * 10 // 8
