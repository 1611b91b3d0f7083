"""Tests for risklist_loader.validate: each field's rules, defaults, and that identifiers never leak."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.rejects import Reject
from risklist_loader.rows import FeedRow
from risklist_loader.validate import MAX_FIELD_LENGTH, RowValidator, ValidRow
from risklist_server.core.mutation import Removal, Upsert
from risklist_server.core.record import Contribution
from risklist_server.core.settings import DAY_SECONDS, Settings

NOW = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
SECRET = NetworkSecret(secrets.token_bytes(32))
MARCH_1 = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())


def validator(settings: Settings | None = None) -> RowValidator:
    return RowValidator("bank-a", Normaliser("CN"), Digester(SECRET), settings or Settings(), NOW)


def key(entity_type: EntityType, canonical: str) -> bytes:
    return Digester(SECRET).storage_key(entity_type, canonical)


def add_row(**overrides: object) -> FeedRow:
    values: dict[str, object] = {
        "action": "add",
        "entity_type": "phone",
        "identifier": "+86 138 0013 8000",
        "category": "telecom_fraud",
        "level": "high",
        "reported_at": "2026-03-01T08:00:00+08:00",
    }
    values.update(overrides)
    return FeedRow(7, {name: value for name, value in values.items() if value is not None})


def rejects(row: FeedRow, settings: Settings | None = None) -> dict[str, str]:
    result = validator(settings).validate(row)
    assert isinstance(result, list), result
    assert all(reject.line == 7 for reject in result)
    return {reject.field: reject.reason for reject in result}


def accepted(row: FeedRow, settings: Settings | None = None) -> ValidRow:
    result = validator(settings).validate(row)
    assert isinstance(result, ValidRow), result
    return result


def test_add_row_becomes_an_upsert_with_default_expiry() -> None:
    """A valid add row is normalised, digested, and expires after the category's retention."""
    valid = accepted(add_row(reference="case 17"))
    phone_key = key(EntityType.PHONE, "+8613800138000")
    retention = Settings().retention_seconds(Category.TELECOM_FRAUD)
    assert valid.mutation == Upsert(
        phone_key,
        Contribution("bank-a", Category.TELECOM_FRAUD, RiskLevel.HIGH, MARCH_1, MARCH_1 + retention,
                     "case 17"),
    )
    assert valid.dedupe_key == phone_key + bytes((Category.TELECOM_FRAUD,))
    assert valid.line == 7


def test_retention_comes_from_settings() -> None:
    """The configured retention of the category sets the default expiry."""
    settings = Settings(retention_days={**Settings().retention_days, Category.TELECOM_FRAUD: 10})
    mutation = accepted(add_row(), settings).mutation
    assert isinstance(mutation, Upsert)
    assert mutation.contribution.expires_at == MARCH_1 + 10 * DAY_SECONDS


def test_names_are_case_insensitive_and_levels_numeric() -> None:
    """ADD / Phone / TELECOM_FRAUD and level 4, '4' or 'Critical' are all accepted."""
    for level in (4, "4", " Critical "):
        mutation = accepted(add_row(action="ADD", entity_type="Phone", category="TELECOM_FRAUD",
                                    level=level)).mutation
        assert isinstance(mutation, Upsert) and mutation.contribution.level is RiskLevel.CRITICAL


def test_remove_row_without_category_removes_every_category() -> None:
    """A remove row needs no category; level, times and reference are ignored even if bad."""
    valid = accepted(FeedRow(7, {"action": "remove", "entity_type": "ip", "identifier": "::ffff:1.2.3.4",
                                 "level": "bogus", "reported_at": "yesterday"}))
    assert valid.mutation == Removal(key(EntityType.IP, "1.2.3.4"), "bank-a", None)
    assert valid.dedupe_key.endswith(b"\x00")


def test_remove_row_with_category() -> None:
    """A remove row with a category removes only that category."""
    valid = accepted(FeedRow(7, {"action": "remove", "entity_type": "ip", "identifier": "1.2.3.4",
                                 "category": "gambling"}))
    assert valid.mutation == Removal(key(EntityType.IP, "1.2.3.4"), "bank-a", Category.GAMBLING)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"action": "delete"}, "action", "unknown action 'delete'; expected add|remove"),
        ({"action": None}, "action", "missing; this field is required"),
        ({"entity_type": "iban"}, "entity_type", "unknown entity_type 'iban'; expected account|card|"),
        ({"category": "moneymule"}, "category", "unknown category 'moneymule'; expected telecom_fraud|"),
        ({"category": ""}, "category", "missing; this field is required for add rows"),
        ({"level": "severe"}, "level", "unknown level 'severe'; expected low|medium|high|critical or 1-4"),
        ({"level": 5}, "level", "'5' is out of range"),
        ({"level": 2.5}, "level", "must be a string, not a number"),
        ({"level": True}, "level", "must be a string, not true/false"),
        ({"reported_at": "2026-03-01T08:00:00"}, "reported_at", "without a UTC offset is ambiguous"),
        ({"reported_at": None}, "reported_at", "missing; this field is required for add rows"),
        ({"reported_at": "2026-06-03"}, "reported_at", "more than a day in the future"),
        ({"expires_at": "2026-03-01"}, "expires_at", "must be after reported_at"),
        ({"expires_at": "2026-02-01Z"}, "expires_at", "not an ISO 8601"),
        ({"reference": "r" * 65}, "reference", "65 characters; at most 64"),
        ({"reference": "a\tb"}, "reference", "control or unassigned characters"),
        ({"identifier": ["+8613800138000"]}, "identifier", "must be a string, not a list"),
        ({"identifier": "  "}, "identifier", "missing; this field is required"),
        ({"identifier": "12"}, "identifier", "invalid phone identifier: not a valid number"),
        ({"identifier": "x" * (MAX_FIELD_LENGTH + 1)}, "identifier", "oversized: 1025 characters"),
        ({"reference": "x" * 5000}, "reference", "oversized: 5000 characters; a field holds at most 1024"),
    ],
)
def test_bad_fields_are_named_with_a_reason(overrides: dict[str, object], field: str, reason: str) -> None:
    """Each bad value rejects the row, naming the field and saying why."""
    found = rejects(add_row(**overrides))
    assert field in found, found
    assert reason in found[field]


def test_every_bad_field_of_a_row_is_reported() -> None:
    """A row with several problems reports each of them once."""
    found = rejects(add_row(entity_type="fax", category="x", level="9", reported_at="soon"))
    assert set(found) == {"entity_type", "category", "level", "reported_at"}


def test_plain_date_expiry_after_report() -> None:
    """Explicit expires_at is kept as given."""
    mutation = accepted(add_row(expires_at="2027-03-01")).mutation
    assert isinstance(mutation, Upsert)
    assert mutation.contribution.expires_at == int(datetime(2027, 3, 1, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("entity_type", "raw", "secret_part"),
    [
        ("ip", "10.20.30.999", "10.20.30.999"),
        ("email", "mallory@exa mple.com", "exa mple.com"),
        ("email", "mallory.example.com", "mallory.example.com"),
        ("id_number", "XYZ:110101", "XYZ"),
        ("account", "DE00123456789", "DE00123456789"),
        ("phone", "+86 139 abc", "139"),
    ],
)
def test_invalid_identifier_reasons_never_echo_the_identifier(
    entity_type: str, raw: str, secret_part: str
) -> None:
    """Whatever the normaliser says, no part of the raw identifier reaches the reject."""
    found = rejects(add_row(entity_type=entity_type, identifier=raw))
    assert found["identifier"].startswith(f"invalid {entity_type} identifier:")
    assert secret_part not in found["identifier"]
    assert raw not in str(Reject(7, "identifier", found["identifier"]))


def test_misplaced_identifier_in_an_enum_column_is_redacted() -> None:
    """A phone number in the category column is not echoed; a misspelt name is."""
    found = rejects(add_row(category="+8613800138000", level="13800138000"))
    assert "13800138000" not in found["category"] + found["level"]
    assert "<redacted>" in found["category"] and "<redacted>" in found["level"]
