"""The writer records outcomes durably and the tallies survive reopening and reach read replicas."""

from __future__ import annotations

from pathlib import Path

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, Outcome, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.hit_token import encode_request_id, hit_token
from risklist_server.core.mutation import Upsert
from risklist_server.core.outcome import SourceTally
from risklist_server.core.record import Contribution
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.services.outcomes import OutcomeService
from risklist_server.store.outcomes import live_contributions_by_source
from risklist_server.store.replica import ReplicaStore
from risklist_server.store.risk_store import RiskStore

KEY = b"\x03" + bytes(range(16))
NOW = 1_800_000_000


def _listed_by(store: RiskStore, *sources: str) -> None:
    store.apply([
        Upsert(KEY, Contribution(source, Category.MONEY_MULE, RiskLevel.HIGH, NOW - 10, NOW + 1000))
        for source in sources
    ])


def test_outcomes_credit_other_sources_and_survive_reopening(tmp_path: Path, secret: NetworkSecret) -> None:
    """An outcome credits the subject's other sources; a revision moves the count; reopening keeps it."""
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        _listed_by(store, "bank-a", "bank-b", "bank-c")
        assert store.record_outcome("bank-a", KEY, Outcome.FALSE_POSITIVE, NOW) == 2
        assert store.record_outcome("bank-a", KEY, Outcome.CONFIRMED_FRAUD, NOW) == 2
        assert store.record_outcome("bank-b", KEY, Outcome.CONFIRMED_FRAUD, NOW) == 2
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        assert store.source_tallies() == {
            "bank-a": SourceTally(confirmed_fraud=1),
            "bank-b": SourceTally(confirmed_fraud=1),
            "bank-c": SourceTally(confirmed_fraud=2),
        }
        assert store.live_contributions_by_source(NOW) == {"bank-a": 1, "bank-b": 1, "bank-c": 1}


def test_outcome_for_a_subject_nobody_else_lists_credits_no_one(tmp_path: Path, secret: NetworkSecret) -> None:
    """An outcome about a subject only the reporter (or no one) lists is stored but grades no source."""
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        _listed_by(store, "bank-a")
        assert store.record_outcome("bank-a", KEY, Outcome.FALSE_POSITIVE, NOW) == 0
        assert store.record_outcome("bank-a", b"\x01" + bytes(16), Outcome.UNKNOWN, NOW) == 0
        assert store.source_tallies() == {}


def test_replica_sees_tallies_after_catching_up(tmp_path: Path, secret: NetworkSecret) -> None:
    """A read replica serves the writer's tallies once it has caught up (the policy reads them there)."""
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        _listed_by(store, "bank-a", "bank-b")
        replica = ReplicaStore(tmp_path / "db", str(tmp_path / "secondary"), secret_fingerprint=secret.fingerprint)
        try:
            assert replica.source_tallies() == {}
            store.record_outcome("bank-a", KEY, Outcome.CONFIRMED_FRAUD, NOW)
            replica.catch_up()
            assert replica.source_tallies() == {"bank-b": SourceTally(confirmed_fraud=1)}
        finally:
            replica.close()


def test_a_partner_grades_a_subject_once_whatever_request_ids_it_quotes(tmp_path: Path, secret: NetworkSecret) -> None:
    """Repeating an outcome for new hits on a subject revises the partner's one grade; it never piles up counts."""
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        _listed_by(store, "bank-a")
        outcomes = OutcomeService(SubjectResolver(Normaliser(), Digester(secret)), store, clock=lambda: NOW)
        subject = Subject(int(EntityType.PHONE), None, KEY[1:])
        key = store.outcome_key()
        assert key is not None

        def report(number: int, outcome: Outcome) -> None:
            request_id = encode_request_id(NOW - number, number.to_bytes(8, "big"))
            outcomes.report("bank-b", request_id, subject, outcome, hit_token(key, "bank-b", request_id, KEY))

        for number in range(5):
            report(number, Outcome.FALSE_POSITIVE)
        assert store.source_tallies() == {"bank-a": SourceTally(false_positive=1)}
        report(5, Outcome.CONFIRMED_FRAUD)
        assert store.source_tallies() == {"bank-a": SourceTally(confirmed_fraud=1)}


def test_live_contributions_are_counted_per_source_at_the_given_time() -> None:
    """Only contributions still live at `now` count, each towards its own source."""
    def contribution(source: str, category: Category, expires_at: int) -> Contribution:
        return Contribution(source, category, RiskLevel.HIGH, NOW - 10, expires_at)

    records = [
        (KEY, (contribution("bank-a", Category.GAMBLING, NOW + 1), contribution("bank-a", Category.MONEY_MULE, NOW))),
        (b"\x04" * 17, (contribution("bank-a", Category.GAMBLING, NOW + 1), contribution("bank-b", Category.GAMBLING,
                                                                                        NOW + 1))),
        (b"\x05" * 17, (contribution("bank-c", Category.GAMBLING, NOW - 1),)),
    ]
    assert live_contributions_by_source(records, NOW) == {"bank-a": 2, "bank-b": 1}
