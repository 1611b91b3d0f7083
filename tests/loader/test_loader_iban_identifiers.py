"""IBANs decided a column at a time (risklist_loader.iban_identifiers): every canonical text it gives is the general
rules' canonical form, and its key FastRows.key's; the common feed spellings are decided."""

from __future__ import annotations

from column_checks import assert_rule_decides_only_as_the_rules_say, decided_by
from hypothesis import example, given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import EntityType
from risklist_loader.iban_identifiers import iban_forms

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = LETTERS + LETTERS.lower() + "0123456789"


def _with_check_digits(country: str, bban: str) -> str:
    """The IBAN of `bban` in `country` (letters as given), with correct check digits."""
    rearranged = (bban + country + "00").upper()
    number = int("".join(str(int(character, 36)) for character in rearranged))
    return f"{country}{98 - number % 97:02d}{bban}"


def _spaced(text: str, separators: list[str]) -> str:
    """`text` with a separator (possibly empty) after each group of four, in turn."""
    groups = [text[place : place + 4] for place in range(0, len(text), 4)]
    return "".join(group + separators[index % len(separators)] for index, group in enumerate(groups))


SEPARATORS = st.lists(st.sampled_from(["", "", " ", "-", ".", "/", "\t", "  ", ":", "`"]), min_size=1, max_size=3)
COUNTRIES = st.sampled_from(["GB", "DE", "FR", "NL", "IT", "ES", "BE", "CH", "gb", "Gb", "XX", "QA", "NO"])
BBANS = st.one_of(
    st.builds(lambda bank, number: bank + number, st.text(alphabet=LETTERS, min_size=4, max_size=4),
              st.text(alphabet="0123456789", min_size=14, max_size=14)),
    st.text(alphabet="0123456789", min_size=10, max_size=30),
    st.text(alphabet=ALNUM, min_size=0, max_size=32),
)
IBANS = st.builds(lambda country, bban, separators, lower: (lambda text: text.lower() if lower else text)(
    _spaced(_with_check_digits(country, bban), separators)), COUNTRIES, BBANS, SEPARATORS, st.booleans())
FIELDS = st.one_of(
    IBANS,
    IBANS.map(lambda text: " " + text + " "),
    st.builds(lambda country, rest: country + rest, COUNTRIES, st.text(alphabet=ALNUM + " -", max_size=40)),
    st.text(alphabet=ALNUM + " -./`:", max_size=50),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(FIELDS.filter(lambda field: "," not in field),
                          st.sampled_from([int(EntityType.ACCOUNT)] * 4 + [int(EntityType.DEVICE), -1])),
                min_size=1, max_size=30))
@example([("GB82 WEST 1234 5698 7654 32", int(EntityType.ACCOUNT))])
@example([("gb82west12345698765432", int(EntityType.ACCOUNT)), ("DE89370400440532013000", int(EntityType.ACCOUNT))])
def test_every_decided_field_is_what_the_rules_and_fast_rows_make_of_it(rows: list[tuple[str, int]]) -> None:
    assert_rule_decides_only_as_the_rules_say(iban_forms, EntityType.ACCOUNT, rows)


def test_the_common_feed_spellings_of_ibans_are_decided() -> None:
    fields = ["GB82WEST12345698765432", "GB82 WEST 1234 5698 7654 32", "gb82 west 1234 5698 7654 32",
              "DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "de89-3704-0044-0532-0130-00"]
    decided, canonicals = decided_by(iban_forms, fields, [int(EntityType.ACCOUNT)] * len(fields))
    assert decided == [True] * len(fields)
    assert [text.decode() for text in canonicals] == ["GB82WEST12345698765432"] * 3 + ["DE89370400440532013000"] * 3


def test_what_needs_the_kernels_rules_is_left() -> None:
    """Wrong check digits, a wrong BBAN, a country with its own checks or none known, other characters, plain
    account numbers, other types."""
    fields = ["GB83WEST12345698765432", "GB82WEST1234569876543", "GB82 WEST 1234 5698 7654 32`",
              "GB82:WEST12345698765432", "XX82WEST12345698765432", "ES9121000418450200051332",
              "6222021234567890123", "ACC-001-778", "G", ""]
    decided, canonicals = decided_by(iban_forms, fields + ["GB82WEST12345698765432"],
                                  [int(EntityType.ACCOUNT)] * len(fields) + [int(EntityType.DEVICE)])
    assert decided == [False] * (len(fields) + 1) and canonicals == []
