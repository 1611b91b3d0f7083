"""IPv4 addresses decided a column at a time (risklist_loader.ip_identifiers): every canonical text it gives is the
general rules' canonical form, and its key FastRows.key's; the common feed spellings are decided."""

from __future__ import annotations

from column_checks import assert_rule_decides_only_as_the_rules_say, decided_by
from hypothesis import example, given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import EntityType
from risklist_loader.ip_identifiers import ip_forms

OCTETS = st.one_of(st.integers(min_value=0, max_value=255).map(str),
                   st.integers(min_value=0, max_value=999).map(str),
                   st.integers(min_value=0, max_value=99).map(lambda number: f"0{number}"), st.sampled_from(["", "1a"]))
BROKEN = st.builds(lambda octets, dots: "".join(octet + dot for octet, dot in zip(octets, dots, strict=False)),
                   st.lists(OCTETS, min_size=1, max_size=5),
                   st.lists(st.sampled_from([".", ".", ".", "..", ":"]), min_size=5, max_size=5))
DOTTED = st.one_of(st.lists(OCTETS, min_size=4, max_size=4).map(".".join),
                   BROKEN.map(lambda text: text[:-1] if text.endswith((".", ":")) and len(text) > 1 else text))
"""Four octets of which some may be over 255 or have a leading zero, or broken groupings."""
PREFIXES = st.sampled_from(["", "", "::ffff:", "::FFFF:", "::fFfF:", "::ffff::", ":ffff:", "::fffe:", "0::ffff:",
                            "::", " "])
FIELDS = st.one_of(
    st.builds(lambda prefix, dotted, suffix: prefix + dotted + suffix, PREFIXES, DOTTED,
              st.sampled_from(["", "", "", " ", "%1", "/24"])),
    st.sampled_from(["2001:db8::1", "::1", "2001:DB8:0:0:0:0:0:1", "fe80::1%eth0", "::ffff:c000:280"]),
    st.text(alphabet="0123456789.:fF ", max_size=24),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(FIELDS, st.sampled_from([int(EntityType.IP)] * 4 + [int(EntityType.DEVICE), -1])),
                min_size=1, max_size=30))
@example([("192.168.0.1", int(EntityType.IP)), ("::ffff:10.0.0.1", int(EntityType.IP))])
@example([("255.255.255.255", int(EntityType.IP)), ("::FFFF:255.255.255.255", int(EntityType.IP))])
def test_every_decided_field_is_what_the_rules_and_fast_rows_make_of_it(rows: list[tuple[str, int]]) -> None:
    assert_rule_decides_only_as_the_rules_say(ip_forms, EntityType.IP, rows)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=255), min_size=4, max_size=4), st.sampled_from(["", "::ffff:",
                                                                                                    "::FFFF:"]))
def test_every_ipv4_address_is_decided_as_written(octets: list[int], prefix: str) -> None:
    dotted = ".".join(str(octet) for octet in octets)
    decided, canonicals = decided_by(ip_forms, [prefix + dotted], [int(EntityType.IP)])
    assert decided == [True] and canonicals == [dotted.encode()]


def test_what_needs_the_kernels_rules_is_left() -> None:
    """Leading zeros, octets over 255, too few or many groups, other IPv6 forms, spaces, zones, other types."""
    fields = ["01.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.4.", "2001:db8::1",
              "::ffff:c000:280", " 1.2.3.4", "1.2.3.4 ", "::ffff:01.2.3.4", "::fffe:1.2.3.4", "0::ffff:1.2.3.4",
              "1.2.3.1000", ""]
    decided, canonicals = decided_by(ip_forms, fields + ["1.2.3.4"],
                                     [int(EntityType.IP)] * len(fields) + [int(EntityType.DEVICE)])
    assert decided == [False] * (len(fields) + 1) and canonicals == []
