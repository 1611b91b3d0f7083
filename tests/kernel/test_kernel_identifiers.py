"""Normaliser properties: idempotence, equivalent spellings, errors (server/core/identifiers.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from risklist_kernel.enums import EntityType
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import (
    MAX_RAW_LENGTH,
    RIC_DATES_REMEMBERED,
    RIC_PLACES_REMEMBERED,
    Normaliser,
    ascii_fast_rule,
    remembered_ric_checks,
)
from tests.support.identifier_strategies import equivalent_spelling, valid_raw

NORMALISER = Normaliser()
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def typed_valid(draw: st.DrawFn) -> tuple[EntityType, str]:
    """A valid raw identifier with its entity type (every type equally often)."""
    entity_type = draw(st.sampled_from(list(EntityType)))
    return entity_type, draw(valid_raw(entity_type))


@pytest.mark.parametrize("entity_type", list(EntityType), ids=lambda t: t.feed_name)
@PROPERTY
@given(data=st.data())
def test_normalise_is_idempotent(entity_type: EntityType, data: st.DataObject) -> None:
    """Normalising a canonical form gives it back unchanged, for every entity type."""
    raw = data.draw(valid_raw(entity_type))
    canonical = NORMALISER.normalise(entity_type, raw)
    assert NORMALISER.normalise(entity_type, canonical) == canonical


@pytest.mark.parametrize("entity_type", list(EntityType), ids=lambda t: t.feed_name)
@PROPERTY
@given(data=st.data())
def test_equivalent_spellings_share_a_canonical_form(
    entity_type: EntityType, data: st.DataObject
) -> None:
    """Separators, letter case, full-width digits and number formats keep the canonical form."""
    canonical = NORMALISER.normalise(entity_type, data.draw(valid_raw(entity_type)))
    spelling = data.draw(equivalent_spelling(entity_type, canonical))
    assert NORMALISER.normalise(entity_type, spelling) == canonical


@settings(max_examples=300, deadline=None)
@given(entity_type=st.sampled_from(list(EntityType)), raw=st.text(max_size=48))
def test_arbitrary_text_is_normalised_or_rejected_with_invalid_identifier(
    entity_type: EntityType, raw: str
) -> None:
    """Any text normalises to a fixed point or raises InvalidIdentifier, never another error."""
    try:
        canonical = NORMALISER.normalise(entity_type, raw)
    except InvalidIdentifier as error:
        assert error.entity_type == entity_type.feed_name
        assert str(error).startswith(f"invalid {entity_type.feed_name} identifier: ")
        return
    assert NORMALISER.normalise(entity_type, canonical) == canonical


@PROPERTY
@given(pair=typed_valid())
def test_surrounding_whitespace_is_ignored(pair: tuple[EntityType, str]) -> None:
    """Leading and trailing whitespace (including a full-width space) never changes the result."""
    entity_type, raw = pair
    assert NORMALISER.normalise(entity_type, f" \t{raw}\u3000\n") == NORMALISER.normalise(
        entity_type, raw
    )


@pytest.mark.parametrize("entity_type", list(EntityType), ids=lambda t: t.feed_name)
def test_empty_and_oversized_identifiers_are_rejected(entity_type: EntityType) -> None:
    """Blank text and text longer than MAX_RAW_LENGTH are invalid for every type."""
    with pytest.raises(InvalidIdentifier, match="empty"):
        NORMALISER.normalise(entity_type, "  \t ")
    with pytest.raises(InvalidIdentifier, match="longer than the maximum"):
        NORMALISER.normalise(entity_type, "1" * (MAX_RAW_LENGTH + 1))


def test_non_text_identifier_is_rejected() -> None:
    """A value that is not a str (e.g. bytes from a careless caller) is an InvalidIdentifier."""
    with pytest.raises(InvalidIdentifier, match="must be text"):
        NORMALISER.normalise(EntityType.CARD, b"4111111111111111")  # type: ignore[arg-type]


def test_an_invalid_identifiers_message_leads_with_its_place() -> None:
    """With a field path (one identifier of several) the message starts with it, then the type and the reason."""
    alone = InvalidIdentifier("phone", "not a valid number")
    placed = InvalidIdentifier("phone", "not a valid number", field="subjects[1]")
    assert str(alone) == "invalid phone identifier: not a valid number" and alone.field == ""
    assert str(placed) == "subjects[1]: invalid phone identifier: not a valid number"
    assert (placed.field, placed.entity_type, placed.reason) == ("subjects[1]", "phone", "not a valid number")


def test_phone_default_region_is_configurable() -> None:
    """A national-format number is read in the configured default region."""
    assert Normaliser().normalise(EntityType.PHONE, "138 0013 8000") == "+8613800138000"
    assert Normaliser("GB").normalise(EntityType.PHONE, "020 7946 0958") == "+442079460958"
    assert Normaliser("GB").normalise(EntityType.PHONE, "+86 138 0013 8000") == "+8613800138000"
    with pytest.raises(InvalidIdentifier, match="default region GB"):
        Normaliser("GB").normalise(EntityType.PHONE, "138 0013 8000")


def test_id_number_without_prefix_takes_the_default_region() -> None:
    """An ID number without `CC:` gets the default region, and the canonical form always has it."""
    assert Normaliser().normalise(EntityType.ID_NUMBER, "11010519491231002x") == (
        "CN:11010519491231002X"
    )
    assert Normaliser("HK").normalise(EntityType.ID_NUMBER, "a123456-3") == "HK:A1234563"


@pytest.mark.parametrize("raw", ["11000119900101001X", "110000199001010011", "CN:440300198512240016"])
@pytest.mark.parametrize("general", [False, True], ids=["fast", "general"])
def test_a_resident_id_whose_place_is_a_province_or_prefecture_is_invalid(raw: str, general: bool) -> None:
    """stdnum's table holds some codes (110000 Beijing, 110001, 440300 Shenzhen) as a province or prefecture with
    no county, and stdnum 2.2 raises KeyError for them: the normaliser says the ID is invalid, on both paths."""
    normalise = NORMALISER.normalise_general if general else NORMALISER.normalise
    with pytest.raises(InvalidIdentifier, match="not a valid Chinese resident ID"):
        normalise(EntityType.ID_NUMBER, raw)


def _resident_id(area: int, birth: str) -> str:
    body = f"{area:06d}{birth}001"
    return body + ric.calc_check_digit(body + "0")


def test_resident_id_checks_remember_a_bounded_number_of_answers() -> None:
    """A caller sending IDs of ever new birth dates and places (a member's raw BatchCheck, a feed) cannot grow a
    process's memory without bound: the fast path remembers at most RIC_DATES_REMEMBERED date checks and the
    counties' years of RIC_PLACES_REMEMBERED place codes, the most recently used."""
    fast = ascii_fast_rule(EntityType.ID_NUMBER)  # what remembers them (the general rule then rejects each)
    assert fast is not None
    for number in range(RIC_DATES_REMEMBERED + 1_000):  # dates that do not exist: month 13 to 20
        assert fast(_resident_id(110101, f"{1000 + number % 9000:04d}{13 + number // 9000:02d}01"), "CN") is None
    for number in range(RIC_PLACES_REMEMBERED + 1_000):  # place codes stdnum does not know
        assert fast(_resident_id(900_000 + number, "19000101"), "CN") is None
    places, dates = remembered_ric_checks()
    assert places == RIC_PLACES_REMEMBERED and dates == RIC_DATES_REMEMBERED
    # A valid ID is still answered right after the flood (its checks made again, then remembered).
    assert NORMALISER.normalise(EntityType.ID_NUMBER, "11010519491231002x") == "CN:11010519491231002X"


@pytest.mark.parametrize("region", ["CN", "GB", "US", "HK", "ZZ"])
def test_warming_up_loads_every_rule_for_any_default_region(region: str) -> None:
    """warm_up (run by a server at start) normalises an example of every type, the region's own mobile number when
    phonenumbers has one (none for ZZ, a region it does not know), without raising."""
    Normaliser(region).warm_up()


def test_ipv4_mapped_ipv6_is_the_ipv4_address() -> None:
    """::ffff:a.b.c.d is listed and looked up as a.b.c.d."""
    assert NORMALISER.normalise(EntityType.IP, "::ffff:192.0.2.1") == "192.0.2.1"
    assert NORMALISER.normalise(EntityType.IP, "::FFFF:C000:0201") == "192.0.2.1"


def test_device_uuid_forms_share_a_canonical_form() -> None:
    """Upper case, braces, urn:uuid: and the bare 32-hex form of a UUID give the hyphenated form."""
    canonical = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    for raw in (
        "F47AC10B-58CC-4372-A567-0E02B2C3D479",
        "{f47ac10b-58cc-4372-a567-0e02b2c3d479}",
        "urn:uuid:f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "F47AC10B58CC4372A5670E02B2C3D479",
    ):
        assert NORMALISER.normalise(EntityType.DEVICE, raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "0x1234567890abcdef1234567890abcd",  # int(…, 16) takes a 0x prefix
        "+1234567890abcdef1234567890abcde",  # … a sign
        "1234567890abcdef_1234567890abcde",  # … and underscores
        "uuid:1234567890abcdef1234567890abcdef",  # uuid.UUID drops 'uuid:' anywhere
    ],
)
def test_device_ids_that_are_not_uuids_are_kept_distinct(raw: str) -> None:
    """Only real UUID spellings become UUIDs, so distinct opaque device ids never merge into one."""
    assert NORMALISER.normalise(EntityType.DEVICE, raw) == raw


def test_device_id_that_is_not_hex_keeps_its_case() -> None:
    """An opaque device fingerprint is case-sensitive; a hex id is lower-cased."""
    assert NORMALISER.normalise(EntityType.DEVICE, "fp_Kx9vQ2LmT7") == "fp_Kx9vQ2LmT7"
    assert NORMALISER.normalise(EntityType.DEVICE, "9774D56D682E549C") == "9774d56d682e549c"


@pytest.mark.parametrize(
    ("entity_type", "raw", "reason"),
    [
        (EntityType.ACCOUNT, "GB82 WEST 1234 5698 7654 33", "looks like an IBAN"),
        (EntityType.CARD, "4111 1111 1111 1112", "Luhn"),
        (EntityType.PHONE, "+86 123 4567 8901", "not a valid number"),
        (EntityType.DEVICE, "35-209900-176148-2", "IMEI"),
        (EntityType.ID_NUMBER, "110105194912310021", "Chinese resident ID"),
        (EntityType.IP, "fe80::1%eth0", "zone"),
        (EntityType.EMAIL, "alice@example..com", "two periods"),
    ],
)
def test_invalid_identifier_names_type_and_reason(
    entity_type: EntityType, raw: str, reason: str
) -> None:
    """The error says which entity type was invalid and why."""
    with pytest.raises(InvalidIdentifier) as caught:
        NORMALISER.normalise(entity_type, raw)
    assert caught.value.entity_type == entity_type.feed_name
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("entity_type", "raw"),
    [
        (EntityType.IP, "203.0.113.999"),
        (EntityType.EMAIL, "someone@exa mple.com"),
        (EntityType.EMAIL, "mule.account@@example.org"),
        (EntityType.ID_NUMBER, "XYZ:12345678"),
        (EntityType.ACCOUNT, "GB00WEST12345698765432"),
        (EntityType.DEVICE, "35209900176148 2"),
    ],
)
def test_error_reasons_never_repeat_the_identifier(entity_type: EntityType, raw: str) -> None:
    """An invalid identifier's reason names the type and the rule, never parts of the value."""
    with pytest.raises(InvalidIdentifier) as caught:
        Normaliser().normalise(entity_type, raw)
    for token in ("203.0.113", "mple", "someone", "mule", "account", "XYZ", "12345678", "WEST", "3520990"):
        if token in raw:
            assert token.lower() not in str(caught.value).lower()
