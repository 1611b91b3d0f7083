"""ID numbers decided a column at a time (risklist_loader.id_identifiers): every canonical text it gives is the
general rules' canonical form, and its key FastRows.key's; the common feed spellings are decided."""

from __future__ import annotations

import functools

from column_checks import assert_rule_decides_only_as_the_rules_say, decided_by
from hypothesis import example, given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import EntityType
from risklist_loader.id_identifiers import id_forms

CN_IDS = functools.partial(id_forms, default_region="CN")
WEIGHTS = [pow(2, 17 - place, 11) for place in range(17)]
PLACES = st.sampled_from(["110105", "310104", "520201", "120101", "440305", "110000", "999999", "000000", "110101"])
DATES = st.builds(lambda year, month, day: f"{year:04d}{month:02d}{day:02d}", st.integers(min_value=1800,
                  max_value=2100), st.integers(min_value=0, max_value=13), st.integers(min_value=0, max_value=32))


def _check_digit(body: str) -> str:
    """ISO 7064 MOD 11-2, the resident ID's last character."""
    value = (12 - sum(int(digit) * weight for digit, weight in zip(body, WEIGHTS, strict=True)) % 11) % 11
    return "X" if value == 10 else str(value)


RESIDENT_IDS = st.builds(lambda place, date, serial, wrong: (lambda body: body + (
    "0" if wrong and _check_digit(body) != "0" else _check_digit(body)))(place + date + serial),
    PLACES, DATES, st.text(alphabet="0123456789", min_size=3, max_size=3), st.booleans())
SPACINGS = st.sampled_from([lambda text: text, lambda text: f"{text[:6]} {text[6:14]} {text[14:]}",
                            lambda text: f"{text[:6]}-{text[6:14]}-{text[14:]}", str.lower,
                            lambda text: f" {text} ", lambda text: f"{text[:6]}\t{text[6:]}",
                            lambda text: f"{text[:6]}:{text[6:]}", lambda text: f"{text}`", lambda text: text[:-1]])
PREFIXES = st.sampled_from(["", "", "CN:", "cn:", "Cn:", "GB:", "gb:", "US:", " CN:", "CN :", "C:", "CNN:", "1N:"])
FIELDS = st.one_of(
    st.builds(lambda prefix, spacing, number: prefix + spacing(number), PREFIXES, SPACINGS, RESIDENT_IDS),
    st.builds(lambda prefix, rest: prefix + rest, PREFIXES,
              st.text(alphabet="ABCXYZabcxyz0123456789 -./", min_size=0, max_size=40)),
    st.text(alphabet="CNGBcn:0123456789X -", max_size=30),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(FIELDS.filter(lambda field: "," not in field),
                          st.sampled_from([int(EntityType.ID_NUMBER)] * 4 + [int(EntityType.DEVICE), -1])),
                min_size=1, max_size=30))
@example([("110105194912310021", int(EntityType.ID_NUMBER)), ("CN:11010519491231002X", int(EntityType.ID_NUMBER))])
@example([("US:12345678", int(EntityType.ID_NUMBER)), ("X:1", int(EntityType.ID_NUMBER))])
def test_every_decided_field_is_what_the_rules_and_fast_rows_make_of_it(rows: list[tuple[str, int]]) -> None:
    assert_rule_decides_only_as_the_rules_say(CN_IDS, EntityType.ID_NUMBER, rows)


def test_the_common_feed_spellings_of_ids_are_decided() -> None:
    fields = ["11010519491231002X", "cn:11010519491231002x", "CN:110105 19491231 002X", "110105-19491231-002X",
              "GB:Q1461304169", "gb:q146 1304 169"]
    decided, canonicals = decided_by(CN_IDS, fields, [int(EntityType.ID_NUMBER)] * len(fields))
    assert decided == [True] * len(fields)
    assert [text.decode() for text in canonicals] == ["CN:11010519491231002X"] * 4 + ["GB:Q1461304169"] * 2


def test_what_needs_the_kernels_rules_is_left() -> None:
    """A wrong check digit, an unknown date or place, a wrong length, odd prefixes and characters, other types."""
    fields = ["110105194912310022", "110105194913310021", "999999194912310021", "11010519491231002",
              " CN:11010519491231002X", "CN :11010519491231002X", "CN:110105:19491231002X", "US:123", "US:1234`",
              "110105194912310021`", "C:12345", ""]
    decided, canonicals = decided_by(CN_IDS, fields + ["11010519491231002X"],
                                     [int(EntityType.ID_NUMBER)] * len(fields) + [int(EntityType.DEVICE)])
    assert decided == [False] * (len(fields) + 1) and canonicals == []
