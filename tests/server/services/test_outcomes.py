"""OutcomeService takes an outcome only with its hit's proof, within the window; a refusal records nothing."""

from __future__ import annotations

import pytest

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, Outcome, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.errors import InvalidSubjects, OutcomeNotProven
from risklist_server.core.hit_token import OutcomeWindow, encode_request_id, hit_token
from risklist_server.core.mutation import Upsert
from risklist_server.core.outcome import SourceTally
from risklist_server.core.record import Contribution
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.services.outcomes import OutcomeService
from risklist_server.store.risk_store import RiskStore

NOW = 1_800_000_000
DAY = 86_400
LISTED = b"\x03" + bytes(range(16))
UNLISTED = b"\x03" + bytes(range(1, 17))


def _service(store: RiskStore, secret: NetworkSecret) -> OutcomeService:
    store.apply([Upsert(LISTED, Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, NOW - 10, NOW + DAY))])
    return OutcomeService(SubjectResolver(Normaliser(), Digester(secret)), store, window=OutcomeWindow(7 * DAY),
                          clock=lambda: NOW)


def _subject(key: bytes) -> Subject:
    return Subject(int(EntityType.PHONE), None, key[1:])


def _proof(store: RiskStore, partner: str, key: bytes, issued: int = NOW) -> tuple[str, bytes]:
    outcome_key = store.outcome_key()
    assert outcome_key is not None
    request_id = encode_request_id(issued, bytes(8))
    return request_id, hit_token(outcome_key, partner, request_id, key)


def test_a_proven_outcome_is_recorded(store: RiskStore, secret: NetworkSecret) -> None:
    """The token the server gave bank-b for the hit, within the window: recorded and credited."""
    service = _service(store, secret)
    request_id, token = _proof(store, "bank-b", LISTED, NOW - 7 * DAY)
    assert service.report("bank-b", request_id, _subject(LISTED), Outcome.CONFIRMED_FRAUD, token) == 1
    assert store.source_tallies() == {"bank-a": SourceTally(confirmed_fraud=1)}


@pytest.mark.parametrize(("case", "reason"), [
    ("missing", "hit_token is missing"),
    ("expired", "names no answer of the last 7 days"),
    ("ahead", "names no answer of the last 7 days"),
    ("another member's", "is not the outcome token"),
    ("another subject's", "is not the outcome token"),
    ("unlisted subject", "is not the outcome token"),
])
def test_unproven_outcomes_are_refused_and_record_nothing(
    store: RiskStore, secret: NetworkSecret, case: str, reason: str
) -> None:
    """Each way of lacking the proof is OutcomeNotProven saying what to send; nothing is stored."""
    service = _service(store, secret)
    subject, request_id, token = LISTED, *_proof(store, "bank-b", LISTED)
    if case == "missing":
        token = b""
    elif case == "expired":
        request_id, token = _proof(store, "bank-b", LISTED, NOW - 7 * DAY - 1)
    elif case == "ahead":
        request_id, token = _proof(store, "bank-b", LISTED, NOW + 3600)
    elif case == "another member's":
        request_id, token = _proof(store, "bank-c", LISTED)
    elif case == "another subject's":
        request_id, token = _proof(store, "bank-b", UNLISTED)
    else:
        subject = UNLISTED
    with pytest.raises(OutcomeNotProven, match=reason) as refused:
        service.report("bank-b", request_id, _subject(subject), Outcome.FALSE_POSITIVE, token)
    assert "outcome_token" in str(refused.value) and "within 7 days" in str(refused.value)
    assert store.source_tallies() == {}


def test_a_malformed_request_is_named_before_any_proof_is_asked(store: RiskStore, secret: NetworkSecret) -> None:
    """A bad request id or outcome is INVALID_ARGUMENT material (InvalidSubjects), as before tokens existed."""
    service = _service(store, secret)
    with pytest.raises(InvalidSubjects) as raised:
        service.report("bank-b", "0" * 23, _subject(LISTED), 0, b"")
    assert [field for field, _ in raised.value.violations] == ["hit_request_id", "outcome"]
