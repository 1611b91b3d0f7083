"""Core enums mirror the proto enums and parse feed names (server/core/enums.py)."""

from __future__ import annotations

import pytest
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.enums import Action, Category, EntityType, Outcome, RiskLevel


@pytest.mark.parametrize(
    ("core", "proto", "prefix"),
    [
        (EntityType, pb.EntityType, "ENTITY_TYPE_"),
        (RiskLevel, pb.RiskLevel, "RISK_LEVEL_"),
        (Category, pb.Category, "CATEGORY_"),
        (Action, pb.Action, "ACTION_"),
        (Outcome, pb.Outcome, "OUTCOME_"),
    ],
    ids=["entity_type", "risk_level", "category", "action", "outcome"],
)
def test_core_enum_values_equal_the_proto_enum_values(
    core: type, proto: object, prefix: str
) -> None:
    """Each core member has the value of proto PREFIX+NAME; the proto adds only UNSPECIFIED = 0."""
    proto_values = dict(proto.items())  # type: ignore[attr-defined]
    assert proto_values.pop(f"{prefix}UNSPECIFIED") == 0
    assert proto_values == {f"{prefix}{member.name}": member.value for member in core}  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["phone", "Phone", " PHONE ", "pHoNe"])
def test_feed_names_are_case_insensitive(text: str) -> None:
    """Feed names parse whatever their case and surrounding spaces."""
    assert EntityType.from_feed_name(text) is EntityType.PHONE


def test_unknown_feed_name_lists_the_accepted_names() -> None:
    """An unknown name is a ValueError naming every accepted value."""
    with pytest.raises(ValueError, match="telecom_fraud\\|money_mule\\|.*\\|other"):
        Category.from_feed_name("phishing")


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("low", RiskLevel.LOW),
        ("2", RiskLevel.MEDIUM),
        (" High ", RiskLevel.HIGH),
        ("4", RiskLevel.CRITICAL),
    ],
)
def test_level_parses_names_and_numbers(text: str, level: RiskLevel) -> None:
    """Levels are low|medium|high|critical or 1-4."""
    assert RiskLevel.parse(text) is level


@pytest.mark.parametrize(
    ("text", "message"), [("0", "out of range"), ("5", "out of range"), ("severe", "unknown level")]
)
def test_bad_level_is_rejected(text: str, message: str) -> None:
    """Out-of-range numbers and unknown names are ValueErrors that say what is accepted."""
    with pytest.raises(ValueError, match=message):
        RiskLevel.parse(text)
