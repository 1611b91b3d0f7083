"""Device ids decided a column at a time (risklist_loader.device_identifiers): every canonical text it gives is the
general rules' canonical form, and its key FastRows.key's; the common feed spellings are decided."""

from __future__ import annotations

from column_checks import assert_rule_decides_only_as_the_rules_say, decided_by
from hypothesis import example, given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import EntityType
from risklist_loader.device_identifiers import device_forms

HEX = "0123456789abcdefABCDEF"


def _hyphenated(digits: str, cuts: list[int]) -> str:
    """`digits` with a hyphen at each cut (positions taken modulo its length)."""
    places = sorted({cut % (len(digits) + 1) for cut in cuts}, reverse=True)
    for place in places:
        digits = digits[:place] + "-" + digits[place:]
    return digits


UUIDS = st.builds(
    lambda digits, layout, cuts, wrap: wrap[0] + (
        f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}" if layout
        else _hyphenated(digits, cuts)) + wrap[1],
    st.text(alphabet=HEX, min_size=30, max_size=34), st.booleans(), st.lists(st.integers(0, 40), max_size=5),
    st.sampled_from([("", ""), ("", ""), ("{", "}"), ("{", ""), ("", "}"), ("urn:uuid:", ""), ("URN:UUID:", ""),
                     ("(", ")"), (" ", "")]))
FIELDS = st.one_of(
    UUIDS,
    st.text(alphabet=HEX, min_size=0, max_size=42),
    st.text(alphabet="0123456789", min_size=12, max_size=34),
    st.text(alphabet=HEX + "-{}", min_size=0, max_size=42),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=0, max_size=42),
    st.builds(lambda prefix, body: prefix + body, st.sampled_from(["FP", "fp-", "dev:", "{", "`", "urn:uuid:"]),
              st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", max_size=36)),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(FIELDS.filter(lambda field: "," not in field),
                          st.sampled_from([int(EntityType.DEVICE)] * 4 + [int(EntityType.ACCOUNT), -1])),
                min_size=1, max_size=30))
@example([("{0123456789ABCDEF0123456789abcdef}", int(EntityType.DEVICE))])
@example([("0123-4567-89AB-CDEF-0123-4567-89ab-cdef", int(EntityType.DEVICE))])
@example([("356938035643808", int(EntityType.DEVICE))])
def test_every_decided_field_is_what_the_rules_and_fast_rows_make_of_it(rows: list[tuple[str, int]]) -> None:
    assert_rule_decides_only_as_the_rules_say(device_forms, EntityType.DEVICE, rows)


def test_the_common_feed_spellings_of_device_ids_are_decided() -> None:
    fields = ["0f1e2d3c-4b5a-4697-a877-665544332211", "0F1E2D3C-4B5A-4697-A877-665544332211",
              "{0f1e2d3c-4b5a-4697-a877-665544332211}", "0f1e2d3c4b5a4697a877665544332211", "8a3f00c2d1e4b5a6",
              "8A3F00C2D1E4B5A6", "FPa81Zk09Qx", "device-0042"]
    decided, canonicals = decided_by(device_forms, fields, [int(EntityType.DEVICE)] * len(fields))
    assert decided == [True] * len(fields)
    assert [text.decode() for text in canonicals] == ["0f1e2d3c-4b5a-4697-a877-665544332211"] * 4 + [
        "8a3f00c2d1e4b5a6", "8a3f00c2d1e4b5a6", "FPa81Zk09Qx", "device-0042"]


def test_what_needs_the_kernels_rules_is_left() -> None:
    """Digits (perhaps IMEIs), urn:uuid:, spaces, backticks, short ids, odd hyphens or braces, other types."""
    fields = ["356938035643808", "12345678", "urn:uuid:0f1e2d3c-4b5a-4697-a877-665544332211", "ab cd ef",
              "abc`def", "abc", "AB-CD", "{abcd", "x" * 41, ""]
    decided, canonicals = decided_by(device_forms, fields + ["8a3f00c2d1e4b5a6"],
                                  [int(EntityType.DEVICE)] * len(fields) + [int(EntityType.ACCOUNT)])
    assert decided == [False] * (len(fields) + 1) and canonicals == []
