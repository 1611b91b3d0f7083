"""ContributionService on a real store: ownership, revokes of nothing of the caller's, a dict model, expiry."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.core.report import ReportInput
from risklist_server.core.settings import Settings
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.services.contributions import ContributionService
from risklist_server.services.expiry_sweep import ExpirySweeper
from risklist_server.store.risk_store import RiskStore

NOW = 1_800_000_000
PARTNERS = ("bank-a", "bank-b")
SUBJECTS = [Subject(int(EntityType.PHONE), f"+86138001380{n:02d}") for n in range(4)]


class Clock:
    """An injectable clock: unix seconds, moved by the test."""

    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


@pytest.fixture()
def resolver(secret: NetworkSecret) -> SubjectResolver:
    return SubjectResolver(Normaliser("CN"), Digester(secret))


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def service(store: RiskStore, resolver: SubjectResolver, clock: Clock) -> ContributionService:
    return ContributionService(store, resolver, Settings(), clock=clock)


def _report(subject: Subject, category: Category = Category.MONEY_MULE, **fields: object) -> ReportInput:
    return ReportInput(subject, int(category), int(RiskLevel.HIGH), **fields)  # type: ignore[arg-type]


def test_a_revoke_never_touches_another_partners_contribution(
    service: ContributionService, store: RiskStore, resolver: SubjectResolver
) -> None:
    """Partner A revoking a subject both reported removes only A's contribution; B's stays as it was."""
    service.report("bank-b", [_report(SUBJECTS[0], reference="B-1")])
    service.report("bank-a", [_report(SUBJECTS[0], reference="A-1")])
    before_b = [c for c in store.lookup(resolver.storage_key(SUBJECTS[0])) or () if c.source == "bank-b"]
    result = service.revoke("bank-a", [SUBJECTS[0]], 0)
    assert (result.removed, result.not_listed) == (1, 0)
    assert list(store.lookup(resolver.storage_key(SUBJECTS[0])) or ()) == before_b


def test_a_revoke_of_what_only_others_list_is_not_listed_and_writes_nothing(
    service: ContributionService, store: RiskStore, resolver: SubjectResolver
) -> None:
    """A revoke naming a subject only B lists counts it not_listed beside A's own removal; B's listing stays."""
    service.report("bank-a", [_report(SUBJECTS[0])])
    service.report("bank-b", [_report(SUBJECTS[1])])
    result = service.revoke("bank-a", [SUBJECTS[0], SUBJECTS[1]], 0)
    assert (result.removed, result.not_listed) == (1, 1)
    assert store.lookup(resolver.storage_key(SUBJECTS[0])) is None
    assert store.lookup(resolver.storage_key(SUBJECTS[1])) is not None
    version = store.version
    again = service.revoke("bank-a", [SUBJECTS[0], SUBJECTS[1]], 0)
    assert (again.removed, again.not_listed, again.version) == (0, 2, version) and store.version == version


Model = dict[tuple[int, str, Category], tuple[RiskLevel, str]]
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["report", "revoke"]),
        st.sampled_from(PARTNERS),
        st.integers(0, len(SUBJECTS) - 1),
        st.sampled_from([None, Category.MONEY_MULE, Category.GAMBLING]),
        st.sampled_from([RiskLevel.LOW, RiskLevel.HIGH]),
        st.sampled_from(["", "REF-1"]),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_reports_and_revokes_match_a_dict_model(
    tmp_path_factory: pytest.TempPathFactory, secret: NetworkSecret, operations: list[tuple[str, str, int,
                                                                                            Category | None,
                                                                                            RiskLevel, str]]
) -> None:
    """Any sequence of reports and revokes leaves the store as a plain dict of (subject, source, category) says."""
    resolver = SubjectResolver(Normaliser("CN"), Digester(secret))
    with RiskStore(tmp_path_factory.mktemp("db") / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        service = ContributionService(store, resolver, Settings(), clock=Clock())
        model: Model = {}
        for action, partner, index, category, level, reference in operations:
            if action == "report":
                chosen = category or Category.OTHER
                service.report(partner, [ReportInput(SUBJECTS[index], int(chosen), int(level), reference)])
                model[(index, partner, chosen)] = (level, reference)
                continue
            own = {k for k in model if k[0] == index and category in (None, k[2]) and k[1] == partner}
            version = store.version
            result = service.revoke(partner, [SUBJECTS[index]], int(category or 0))
            assert (result.removed, result.not_listed) == (len(own), int(not own))
            assert own or store.version == version  # nothing of the caller's: nothing written
            for k in own:
                del model[k]
        stored = {
            (index, c.source, c.category): (c.level, c.reference)
            for index, subject in enumerate(SUBJECTS)
            for c in store.lookup(resolver.storage_key(subject)) or ()
        }
        assert stored == model


@pytest.fixture()
def expiring_store(tmp_path: Path) -> Iterator[tuple[RiskStore, list[bytes]]]:
    secret = NetworkSecret(secrets.token_bytes(32))
    store = RiskStore(tmp_path / "expiring", create=True, secret_fingerprint=secret.fingerprint)
    keys = [bytes((int(EntityType.PHONE),)) + secrets.token_bytes(16) for _ in range(25)]
    upserts = [Upsert(key, Contribution("bank-a", Category.OTHER, RiskLevel.LOW, NOW, NOW + 10 + n % 2 * 100))
               for n, key in enumerate(keys)]
    upserts.append(Upsert(keys[1], Contribution("bank-b", Category.OTHER, RiskLevel.LOW, NOW, NOW + 5)))
    store.apply(upserts)
    yield store, keys
    store.close()


def test_sweep_purges_expired_contributions_in_slices(expiring_store: tuple[RiskStore, list[bytes]]) -> None:
    """The sweep walks the records a slice at a time and purges what expired, recording each purge in the changelog."""
    store, keys = expiring_store
    clock = Clock(NOW + 50)
    sweeper = ExpirySweeper(store, interval=60, slice_size=10, clock=clock)
    version = store.version
    purged = [sweeper.sweep_once() for _ in range(3)]  # 25 records: slices of 10, 10, 5
    assert sum(purged) == 14  # 13 expired bank-a contributions (even n) + bank-b's on keys[1]
    changes = {change.key: change.listed for _, entry in store.changes_since(version) for change in entry}
    expected_gone = {key for n, key in enumerate(keys) if n % 2 == 0}
    assert {key for key, listed in changes.items() if not listed} == expected_gone
    assert changes[keys[1]] is True  # still listed: bank-a's contribution there lives on
    assert all(store.lookup(key) is None for key in expected_gone)
    assert [c.source for c in store.lookup(keys[1]) or ()] == ["bank-a"]
    assert sweeper.sweep_once() == 0  # the next cycle finds nothing more


def test_sweep_leaves_live_contributions_alone(expiring_store: tuple[RiskStore, list[bytes]]) -> None:
    """Before anything expires, a full cycle purges nothing and writes no changelog entry."""
    store, _ = expiring_store
    version = store.version
    sweeper = ExpirySweeper(store, interval=60, slice_size=100, clock=Clock(NOW + 1))
    assert sweeper.sweep_once() == 0
    assert store.version == version


class Monotonic:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_clock_set_years_ahead_pauses_the_sweep_at_its_limit(expiring_store: tuple[RiskStore, list[bytes]]) -> None:
    """With the clock a century ahead everything looks expired: the sweep purges up to its limit within the hour,
    then pauses (logged), and the records it did not reach stay stored."""
    store, keys = expiring_store
    sweeper = ExpirySweeper(store, interval=60, slice_size=5, clock=Clock(NOW + 100 * 365 * 86_400), min_limit=6,
                            monotonic=Monotonic())
    with capture_logs() as logs:
        purged = [sweeper.sweep_once() for _ in range(5)]
    assert sweeper.paused
    assert purged[2:] == [0, 0, 0] and 6 < sum(purged) <= 12  # two slices of 5 records (keys[1] holds two)
    version = store.version
    assert sweeper.sweep_once() == 0 and store.version == version
    assert sum(store.lookup(key) is not None for key in keys) == 15
    [paused] = [line for line in logs if line["event"] == "expiry_sweep_paused"]
    assert paused["log_level"] == "error" and paused["limit"] == 6 and paused["purged_last_hour"] == sum(purged)
    assert "clock" in paused["hint"]


def test_purges_older_than_an_hour_no_longer_count(expiring_store: tuple[RiskStore, list[bytes]]) -> None:
    """The limit counts the last hour's purges: slices an hour apart never add up to it."""
    store, _ = expiring_store
    monotonic = Monotonic()
    sweeper = ExpirySweeper(store, interval=60, slice_size=5, clock=Clock(NOW + 100 * 365 * 86_400), min_limit=7,
                            monotonic=monotonic)
    purged = []
    for _ in range(5):
        purged.append(sweeper.sweep_once())
        monotonic.now += 3601
    assert not sweeper.paused and sum(purged) == 26  # every contribution, bank-b's on keys[1] too
