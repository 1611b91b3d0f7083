"""The ASCII fast paths of the normaliser agree exactly with the general rules (server/core/identifiers.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from stdnum import iban, luhn, numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from risklist_kernel.enums import EntityType
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser, ascii_fast_rule, surely_valid_cn_mobile
from tests.support.identifier_strategies import equivalent_spelling, valid_raw

NORMALISERS = (Normaliser("CN"), Normaliser("GB"))
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEPARATORS = st.sampled_from(["", "", "", " ", "-", ".", "/", "\t", "`", "  ", ":", "+"])


def _outcome(normaliser: Normaliser, entity_type: EntityType, raw: str, *, general: bool) -> str:
    """The canonical form, or the error message, of one path."""
    try:
        if general:
            return "ok:" + normaliser.normalise_general(entity_type, raw)
        return "ok:" + normaliser.normalise(entity_type, raw)
    except InvalidIdentifier as error:
        return "error:" + str(error)


def assert_same(entity_type: EntityType, raw: str) -> None:
    for normaliser in NORMALISERS:
        fast = _outcome(normaliser, entity_type, raw, general=False)
        assert fast == _outcome(normaliser, entity_type, raw, general=True), (normaliser, raw)


@st.composite
def spaced(draw: st.DrawFn, text: str) -> str:
    """`text` with separators (sometimes odd ones) between its characters and case changes."""
    parts = [draw(SEPARATORS) + ch for ch in text]
    joined = "".join(parts)
    return draw(st.sampled_from([joined, joined.lower(), joined.upper(), " " + joined + "\n"]))


@st.composite
def near_cards(draw: st.DrawFn) -> str:
    """Card-like digit runs: Luhn-valid or not, of lengths around 12-19."""
    body = draw(st.text(alphabet="0123456789", min_size=9, max_size=20))
    if draw(st.booleans()):
        body += luhn.calc_check_digit(body)
    return draw(spaced(body))


@st.composite
def near_ibans(draw: st.DrawFn) -> str:
    """IBAN-like text: right or wrong check digits, known or unknown countries, fitting or not."""
    country = draw(st.sampled_from(["GB", "DE", "NL", "BE", "ES", "FR", "XX", "QA", "gb"]))
    bban = draw(st.text(alphabet="0123456789ABCDEFWEST", min_size=8, max_size=30))
    check = iban.calc_check_digits(country.upper() + "00" + bban) if draw(st.booleans()) else "00"
    return draw(spaced(country + check + bban))


@st.composite
def near_phones(draw: st.DrawFn) -> str:
    """Phone-like text around the Chinese mobile grammar: prefixes, 10-12 digits, separators."""
    prefix = draw(st.sampled_from(["", "", "+86", "+86 ", "0086", "0086-", "86", "+1 ", "+44", "0", "+860"]))
    first = draw(st.sampled_from(["1", "13", "179", "17951", "11", "12", "14", "16", "19", "2", "0"]))
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=11))
    number = first + rest
    if draw(st.booleans()):
        number = number[:3] + draw(st.sampled_from([" ", "-", "", "  ", "--"])) + number[3:7] + " " + number[7:]
    return prefix + number


@st.composite
def near_devices(draw: st.DrawFn) -> str:
    """IMEIs (right or wrong check digit), UUIDs, hex ids and opaque ids, with separators."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        body = draw(st.text(alphabet="0123456789", min_size=13, max_size=16))
        if draw(st.booleans()):
            body += luhn.calc_check_digit(body)
        return draw(spaced(body))
    if kind == 1:
        hex_text = draw(st.text(alphabet="0123456789abcdefABCDEF", min_size=30, max_size=34))
        if draw(st.booleans()):
            hex_text = f"{hex_text[:8]}-{hex_text[8:12]}-{hex_text[12:16]}-{hex_text[16:20]}-{hex_text[20:]}"
        return draw(st.sampled_from([hex_text, "{" + hex_text + "}", "urn:uuid:" + hex_text, "URN:UUID:" + hex_text]))
    return draw(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), min_size=1, max_size=24))


@st.composite
def near_ids(draw: st.DrawFn) -> str:
    """Resident-ID-like text: valid or damaged numbers, prefixes, lower-case x, other countries."""
    # 110000 and 110001 are in stdnum's table as a province and a prefecture, with no county: no place of birth.
    area = draw(st.one_of(st.sampled_from(["110101", "110105", "310104", "110111", "999999", "520202", "110000",
                                           "110001", "440300"]),
                          st.integers(0, 999_999).map(lambda code: f"{code:06d}")))
    year = draw(st.integers(1890, 2030))
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    serial = draw(st.integers(0, 999))
    body = f"{area}{year:04d}{month:02d}{day:02d}{serial:03d}"
    number = body + ric.calc_check_digit(body + "0")
    if draw(st.booleans()):
        number = number[:-1] + draw(st.sampled_from("0123456789Xx"))
    prefix = draw(st.sampled_from(["", "", "CN:", "cn:", " cn :", "HK:", "CHN:", "C1:", "GB:"]))
    return prefix + draw(spaced(number))


@pytest.mark.parametrize("entity_type", list(EntityType), ids=lambda t: t.feed_name)
@PROPERTY
@given(data=st.data())
def test_valid_spellings_agree(entity_type: EntityType, data: st.DataObject) -> None:
    """Valid identifiers and their equivalent spellings normalise the same on both paths."""
    raw = data.draw(valid_raw(entity_type))
    assert_same(entity_type, raw)
    canonical = Normaliser("CN").normalise_general(entity_type, raw)
    assert_same(entity_type, data.draw(equivalent_spelling(entity_type, canonical)))


@PROPERTY
@given(raw=near_cards())
@example(raw="4111 1111 1111 1111")
@example(raw="4111`1111 1111 1111")
def test_cards_agree(raw: str) -> None:
    """Card numbers, valid or not, give the same canonical form or the same error."""
    assert_same(EntityType.CARD, raw)


@PROPERTY
@given(raw=st.one_of(near_ibans(), st.text(alphabet="0123456789ABCab -./\t`", min_size=1, max_size=40)))
@example(raw="GB82 WEST 1234 5698 7654 32")
@example(raw="BE68 5390 0754 7034")
def test_accounts_agree(raw: str) -> None:
    """Account numbers and IBANs, valid or not, agree on both paths."""
    assert_same(EntityType.ACCOUNT, raw)


@PROPERTY
@given(raw=near_phones())
@example(raw="+86 138-0013-8000")
@example(raw="0086 138 0013 8000")
@example(raw="17951 138 0013 8000")
def test_phones_agree(raw: str) -> None:
    """Phone numbers near the Chinese mobile grammar agree on both paths, for two default regions."""
    assert_same(EntityType.PHONE, raw)


@PROPERTY
@given(raw=near_devices())
@example(raw="35-209900-176148-1")
@example(raw="35-209900-176148-2")
def test_devices_agree(raw: str) -> None:
    """IMEIs, UUIDs, hex and opaque device ids agree on both paths."""
    assert_same(EntityType.DEVICE, raw)


@PROPERTY
@given(raw=near_ids())
@example(raw="11010519491231002x")
@example(raw="110105194913310021")
@example(raw="11000119900101001X")
def test_id_numbers_agree(raw: str) -> None:
    """Resident IDs and other countries' numbers agree on both paths."""
    assert_same(EntityType.ID_NUMBER, raw)


def _six_digit_codes(prefixes: list[tuple[int, str, str, dict[str, str], list[Any]]], head: str = "") -> Iterator[str]:
    """Every six-digit code of a numdb table's prefix tree (its ranges expanded)."""
    for length, low, high, _, children in prefixes:
        for value in range(int(low), int(high) + 1):
            code = head + f"{value:0{length}d}"
            if children:
                yield from _six_digit_codes(children, code)
            elif len(code) == 6:
                yield code


def _stdnum_accepts(number: str) -> bool:
    """stdnum's validate, its KeyError for a code without a county (stdnum 2.2) taken as the refusal it means."""
    try:
        ric.validate(number)
    except (ValidationError, KeyError):
        return False
    return True


def test_every_place_code_of_the_table_agrees_with_stdnum_in_years_around_its_changes() -> None:
    """The fast path reads stdnum's table of places itself (once per code): for every code the table holds with a
    county, and the years around each of its counties' first and last years, it accepts exactly the IDs stdnum's
    validate accepts (the general rule is stdnum's validate: test_id_numbers_agree)."""
    table = numdb.get("cn/loc")
    fast = ascii_fast_rule(EntityType.ID_NUMBER)
    assert fast is not None
    checked = 0
    for place in _six_digit_codes(table.prefixes):
        info = {key: value for _, properties in table.info(place) for key, value in properties.items()}
        if "county" not in info:
            continue
        years = {2000}
        for span in re.findall(r"\[(\d*)-(\d*)\]", info["county"]):
            years |= {int(edge) + step for edge in span if edge for step in (-1, 0, 1)}
        for year in sorted(years):
            body = f"{place}{year:04d}0101001"
            raw = body + ric.calc_check_digit(body + "0")
            assert (fast(raw, "CN") is not None) == _stdnum_accepts(raw), raw
            checked += 1
    assert checked > 6_000


@st.composite
def near_ips(draw: st.DrawFn) -> str:
    """Dotted quads (leading zeros, octets past 255, too few or many parts), mapped and plain IPv6."""
    octet = st.one_of(st.integers(0, 300).map(str), st.text(alphabet="0123456789", min_size=1, max_size=4),
                      st.sampled_from(["", "x", "0x1", "+1", " 1"]))
    parts = draw(st.lists(octet, min_size=3, max_size=5))
    quad = ".".join(parts)
    return draw(st.sampled_from([quad, quad, "::ffff:" + quad, quad + "%eth0", "2001:db8::" + parts[0], quad + "\n"]))


@st.composite
def near_emails(draw: st.DrawFn) -> str:
    """Addresses around the plain forms: odd local parts, special-use, numeric, IDNA and overlong domains."""
    local = draw(st.text(alphabet="aZ09+_-.`!#\"' @", min_size=0, max_size=70))
    domain = draw(st.one_of(
        st.sampled_from(["example.com", "EXAMPLE.COM", "mail.example.cn", "localhost", "foo.test", "x.local",
                         "123.45", "x.co1", "xn--80ak6aa92e.com", "a-.com", "-a.com", "a..com", "a.com.",
                         "ex_ample.com", "b.c", "[127.0.0.1]", "x" * 64 + ".com", "abc.xn--p1ai"]),
        st.text(alphabet="abcXYZ09-.", min_size=1, max_size=30)))
    return local + "@" + domain


@PROPERTY
@given(raw=near_ips())
@example(raw="1.2.3.4")
@example(raw="01.2.3.4")
@example(raw="255.255.255.256")
def test_ips_agree(raw: str) -> None:
    """IPv4 dotted quads and their near misses agree on both paths."""
    assert_same(EntityType.IP, raw)


@PROPERTY
@given(raw=near_emails())
@example(raw="John.Smith@Example.COM")
@example(raw="a@xn--80ak6aa92e.com")
@example(raw="a@foo.test")
@example(raw="x" * 64 + "@example.com")
@example(raw="x" * 65 + "@example.com")
@example(raw="a." + "b" * 60 + "@" + ("c" * 60 + ".") * 3 + "com")
def test_emails_agree(raw: str) -> None:
    """E-mail addresses, plain and odd, agree on both paths (each domain asked of email-validator once)."""
    assert_same(EntityType.EMAIL, raw)


@settings(max_examples=500, deadline=None)
@given(entity_type=st.sampled_from(list(EntityType)),
       raw=st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=40))
def test_arbitrary_ascii_agrees(entity_type: EntityType, raw: str) -> None:
    """Any ASCII text gives the same result on both paths, for every entity type."""
    assert_same(entity_type, raw)


@PROPERTY
@given(national=st.one_of(st.text(alphabet="0123456789", min_size=1, max_size=13).filter(lambda text: text[0] != "0"),
                          st.builds(lambda second, rest: "1" + second + rest, st.sampled_from("0123456789"),
                                    st.text(alphabet="0123456789", min_size=9, max_size=9))))
def test_a_surely_valid_cn_mobile_is_a_valid_number(national: str) -> None:
    """surely_valid_cn_mobile never says yes where phonenumbers says no (its no only means "ask phonenumbers")."""
    if surely_valid_cn_mobile(national):
        assert phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=86, national_number=int(national)))


def test_the_common_cn_mobile_ranges_are_surely_valid() -> None:
    assert all(surely_valid_cn_mobile(national) for national in ("13800138000", "15912345678", "18612345678",
                                                                 "17400012345", "19912345678"))
    assert not any(surely_valid_cn_mobile(national) for national in ("12800138000", "1380013800", "138001380001"))
