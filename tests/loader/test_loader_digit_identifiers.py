"""Digit-form identifiers decided a column at a time (risklist_loader.digit_identifiers): every canonical text it
gives is the general rules' canonical form, and its key FastRows.key's; the common feed spellings are decided."""

from __future__ import annotations

import numpy as np
from column_checks import assert_decided_as_the_rules_say, column
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import EntityType
from risklist_kernel.identifiers import surely_valid_cn_mobile
from risklist_loader.digit_identifiers import _sure_mobile_prefixes, digit_forms


def _luhn_completed(body: str) -> str:
    """`body` with the digit that makes it pass the Luhn check."""
    for last in "0123456789":
        digits = [int(digit) for digit in reversed(body + last)]
        if sum(digit if index % 2 == 0 else (2 * digit) % 9 if digit < 9 else 9
               for index, digit in enumerate(digits)) % 10 == 0:
            return body + last
    raise AssertionError("unreachable")


def _grouped(digits: str, separators: list[str]) -> str:
    """`digits` with a separator (possibly empty) after each digit, in turn."""
    return "".join(digit + separators[index % len(separators)] for index, digit in enumerate(digits))


DIGITS = st.text(alphabet="0123456789", min_size=0, max_size=40)
SEPARATORS = st.lists(st.sampled_from(["", "", "", " ", "-", "  ", " -", ".", "/", "\t"]), min_size=1, max_size=4)
FIELDS = st.one_of(
    st.text(alphabet="0123456789 -", max_size=45),
    st.text(alphabet="0123456789 -aXx.`/+\t:", max_size=45),
    st.builds(_grouped, DIGITS, SEPARATORS),
    st.builds(lambda body, separators: _grouped(_luhn_completed(body), separators),
              st.text(alphabet="0123456789", min_size=10, max_size=20), SEPARATORS),
    st.builds(lambda field, pad: pad + field + pad, st.text(alphabet="0123456789-", max_size=20),
              st.sampled_from(["", " ", "  "])),
    st.builds(lambda prefix, national, separators: prefix + _grouped(national, separators),
              st.sampled_from(["", "", "+86", "+86 ", "+86-", "0086", "0086 ", "+86  ", "86", "+8", "+1", "0", " ", "-",
                               "+860", "++86"]),
              st.builds(lambda head, rest: head + rest,
                        st.sampled_from(["13", "15", "17", "179", "18", "19", "14", "16", "12", "1", "2"]),
                        st.text(alphabet="0123456789", min_size=7, max_size=10)),
              st.lists(st.sampled_from(["", "", "", "", " ", "-", "  ", "+"]), min_size=1, max_size=3)),
)


def _decide(fields: list[str], types: list[EntityType], region: str = "CN") -> tuple[list[bool], list[bytes]]:
    buffer, starts, ends = column(fields)
    decided, canonicals = digit_forms(buffer, starts, ends, np.array([int(member) for member in types], dtype=np.int64),
                                      region)
    return decided.tolist(), canonicals


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(FIELDS, st.sampled_from(list(EntityType))), min_size=1, max_size=30))
def test_every_decided_field_is_what_the_rules_and_fast_rows_make_of_it(rows: list[tuple[str, EntityType]]) -> None:
    fields, types = [field for field, _ in rows], [entity_type for _, entity_type in rows]
    decided, canonicals = _decide(fields, types)
    assert_decided_as_the_rules_say(fields, [int(member) for member in types], decided, canonicals)


def test_the_common_feed_spellings_of_accounts_cards_and_imeis_are_decided() -> None:
    rows = [("6222021234567890123", EntityType.ACCOUNT), ("6222 0212 3456 7890 123", EntityType.ACCOUNT),
            ("6222-0212-3456-7890", EntityType.ACCOUNT), ("4111111111111111", EntityType.CARD),
            ("4111 1111 1111 1111", EntityType.CARD), ("6221-2675-6348-1105", EntityType.CARD),
            ("356938035643809", EntityType.DEVICE), ("35-693803-564380-9", EntityType.DEVICE),
            ("35 693803 564380 9", EntityType.DEVICE)]
    phones = ["13800138000", "138 0013 8000", "+8613800138000", "+86 138-0013-8000", "0086 138 0013 8000",
              "0086-13800138000"]
    fields = [field for field, _ in rows] + phones
    decided, canonicals = _decide(fields, [entity_type for _, entity_type in rows] + [EntityType.PHONE] * len(phones))
    assert decided == [True] * len(fields)
    assert [text.decode() for text in canonicals] == (
        [field.replace(" ", "").replace("-", "") for field, _ in rows] + ["+8613800138000"] * len(phones))


def test_what_needs_another_rule_is_left_to_fast_rows() -> None:
    """Letters, IBANs, other separators and types, wrong lengths and check digits: not decided here."""
    rows = [("GB82 WEST 1234 5698 7654 32", EntityType.ACCOUNT), ("ACC-001-778", EntityType.ACCOUNT),
            ("123", EntityType.ACCOUNT), ("6222.0212.3456", EntityType.ACCOUNT), ("4111111111111112", EntityType.CARD),
            ("41111111111", EntityType.CARD), ("356938035643808", EntityType.DEVICE), ("12345678", EntityType.DEVICE),
            ("110105194912310021", EntityType.ID_NUMBER),
            ("1" * 41, EntityType.ACCOUNT), ("   ", EntityType.ACCOUNT), ("", EntityType.CARD),
            ("+442071838750", EntityType.PHONE), ("17951 138 0013 8000", EntityType.PHONE),
            ("138  0013 8000", EntityType.PHONE), ("12800138000", EntityType.PHONE),
            ("+86 1380013800", EntityType.PHONE)]
    decided, canonicals = _decide([field for field, _ in rows], [entity_type for _, entity_type in rows])
    assert decided == [False] * len(rows) and canonicals == []


def test_mobiles_are_left_to_fast_rows_outside_china() -> None:
    """The mobile grammar here is China's: with another default region, phones go to the kernel's rules."""
    decided, canonicals = _decide(["13800138000", "6222021234567890123"], [EntityType.PHONE, EntityType.ACCOUNT], "GB")
    assert decided == [False, True] and canonicals == [b"6222021234567890123"]


@settings(max_examples=500)
@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_the_mobile_prefix_table_says_what_the_kernels_rule_says(rest: str) -> None:
    """digit_forms reads a mobile's validity from its first five digits: for any 11-digit number the table agrees
    with surely_valid_cn_mobile both ways (so it neither accepts what the rule doubts nor doubts what it accepts)."""
    national = "1" + rest
    assert bool(_sure_mobile_prefixes()[int(national[:5])]) == surely_valid_cn_mobile(national)


def test_the_common_mobile_ranges_are_in_the_prefix_table() -> None:
    table = _sure_mobile_prefixes()
    assert all(table[prefix] for prefix in (13800, 15912, 18612, 17400, 19912))
    assert not any(table[prefix] for prefix in (12800, 17406, 10000))
