"""Alerts: when an answer raises one (against a model), and the outbox record and JSON forms round-trip."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from risklist_client.alerts import Alert, AlertKind, Summary, classify
from risklist_client.result import CheckResult
from risklist_kernel.digest import KEY_SIZE
from risklist_kernel.enums import Action, Category, EntityType, RiskLevel

RESULTS = st.builds(
    CheckResult,
    listed=st.booleans(),
    action=st.sampled_from(list(Action)),
    answered_by=st.just("server"),
    list_version=st.integers(0, 2**63),
    level=st.none() | st.sampled_from(list(RiskLevel)),
    categories=st.lists(st.sampled_from(list(Category)), unique=True, max_size=4).map(lambda c: tuple(sorted(c))),
    source_count=st.integers(0, 50),
    report_count=st.integers(0, 50),
    first_reported=st.integers(0, 2**40),
    last_reported=st.integers(0, 2**40),
    expires_at=st.integers(0, 2**40),
    reason_code=st.text(max_size=30),
    request_id=st.text(max_size=24),
    outcome_token=st.binary(max_size=16),
    subject_key=st.binary(max_size=KEY_SIZE),
    policy_version=st.text(max_size=12),
)


@given(st.none() | RESULTS.filter(lambda r: r.listed), RESULTS)
def test_classify_matches_the_model(before: CheckResult | None, now: CheckResult) -> None:
    """LISTED when newly listed, CLEARED when no longer, CHANGED when level, categories, sources or action moved."""
    previous = None if before is None else Summary.of(before)
    expected: AlertKind | None
    if previous is None:
        expected = AlertKind.LISTED if now.listed else None
    elif not now.listed:
        expected = AlertKind.CLEARED
    else:
        assert before is not None
        moved = (int(before.level or 0), before.categories, before.source_count, before.action) != (
            int(now.level or 0), now.categories, now.source_count, now.action)
        expected = AlertKind.CHANGED if moved else None
    assert classify(previous, now) == expected


@given(RESULTS, st.sampled_from(list(AlertKind)), st.sampled_from(list(EntityType)), st.text(max_size=40),
       st.none() | RESULTS.map(Summary.of), st.integers(1, 2**62), st.floats(0, 2e9))
def test_the_outbox_record_round_trips(result: CheckResult, kind: AlertKind, entity_type: EntityType, label: str,
                                       previous: Summary | None, alert_id: int, at: float) -> None:
    """from_record(to_record(alert)) is the alert; its JSON form is JSON with the documented keys."""
    key = bytes((entity_type,)) + bytes(16)
    alert = Alert(alert_id, kind, entity_type, label, key, result, previous, at)
    assert Alert.from_record(alert_id, key, alert.to_record()) == alert
    document = json.loads(json.dumps(alert.to_dict()))
    assert {"alert_id", "kind", "entity_type", "label", "subject_key", "listed", "action", "reason_code",
            "list_version", "request_id", "raised_at"} <= set(document)
    assert document["kind"] == kind.value and document["subject_key"] == key.hex()
    assert document.get("policy_version") == (result.policy_version if result.listed else None)


def test_an_outbox_record_from_before_verdicts_named_their_policy_is_read() -> None:
    """An alert kept undelivered across the upgrade is delivered, without a policy version."""
    key = bytes((EntityType.PHONE,)) + bytes(16)
    result = CheckResult(True, Action.BLOCK, "server", 7, reason_code="BLOCK_MULTI_SOURCE", policy_version="x")
    record = json.loads(Alert(1, AlertKind.LISTED, EntityType.PHONE, "c-1", key, result, None, 1.0).to_record())
    del record["result"]["policy_version"]
    assert Alert.from_record(1, key, json.dumps(record)).result.policy_version == ""
