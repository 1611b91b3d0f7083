"""Hypothesis strategies: valid raw identifiers of every entity type and equivalent spellings."""

from __future__ import annotations

import datetime
import ipaddress

import phonenumbers
from hypothesis import strategies as st
from stdnum import iban, luhn
from stdnum.cn import ric

from risklist_kernel.enums import EntityType

CARD_PREFIXES = ("4", "411111", "510510", "5555", "2221", "62", "6212", "35", "37")
CN_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "176", "177", "178", "180", "181", "182", "183", "184", "185", "186", "187", "188",
    "189", "198", "199",
)  # fmt: skip
RIC_AREAS = ("110101", "110105", "110108", "120101", "120104", "310104", "310107", "520201")
"""Area codes stdnum's county table accepts for every birth year used below."""

_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FULL_WIDTH = str.maketrans(
    _DIGITS + _UPPER, "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
)


def digits(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Strings of ASCII digits."""
    return st.text(alphabet=_DIGITS, min_size=min_size, max_size=max_size)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """12-19 digit numbers on test-like prefixes with a correct Luhn check digit."""
    prefix = draw(st.sampled_from(CARD_PREFIXES))
    length = draw(st.integers(min_value=12, max_value=19))
    body = prefix + draw(digits(length - 1 - len(prefix), length - 1 - len(prefix)))
    return body + luhn.calc_check_digit(body)


@st.composite
def imeis(draw: st.DrawFn) -> str:
    """15-digit IMEIs with a correct check digit."""
    body = draw(digits(14, 14))
    return body + luhn.calc_check_digit(body)


@st.composite
def cn_mobiles(draw: st.DrawFn) -> str:
    """11-digit Chinese mobile numbers in allocated ranges, as a subscriber dials them."""
    return draw(st.sampled_from(CN_MOBILE_PREFIXES)) + draw(digits(8, 8))


_BBAN = {
    "DE": (("n", 18),),
    "GB": (("a", 4), ("n", 14)),
    "NL": (("a", 4), ("n", 10)),
    "AT": (("n", 16),),
    "CH": (("n", 5), ("c", 12)),
}
_ALPHABETS = {"n": _DIGITS, "a": _UPPER, "c": _DIGITS + _UPPER}


@st.composite
def ibans(draw: st.DrawFn) -> str:
    """Compact IBANs of a few countries with check digits from stdnum.iban.calc_check_digits."""
    country = draw(st.sampled_from(sorted(_BBAN)))
    bban = "".join(
        draw(st.text(alphabet=_ALPHABETS[kind], min_size=size, max_size=size))
        for kind, size in _BBAN[country]
    )
    return country + iban.calc_check_digits(country + "00" + bban) + bban


@st.composite
def cn_resident_ids(draw: st.DrawFn) -> str:
    """18-character Chinese resident IDs with a valid area, birth date and check character."""
    area = draw(st.sampled_from(RIC_AREAS))
    birth = draw(
        st.dates(min_value=datetime.date(1955, 1, 1), max_value=datetime.date(2005, 12, 31))
    )
    body = f"{area}{birth:%Y%m%d}{draw(digits(3, 3))}"
    return body + ric.calc_check_digit(body + "0")


def domestic_accounts() -> st.SearchStrategy[str]:
    """Domestic account numbers: 8-20 digits (never shaped like an IBAN)."""
    return digits(8, 20)


def ip_texts() -> st.SearchStrategy[str]:
    """IPv4 and IPv6 addresses (no zone) as Python writes them."""
    return st.ip_addresses().map(str)


_LOCAL = st.from_regex(r"[a-z0-9]{1,8}([._+-][a-z0-9]{1,8}){0,2}", fullmatch=True)
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True).filter(lambda label: label[2:4] != "--")
"""A DNS label; never `??--…`, which IDNA reserves for A-labels (`xn--`) and email-validator refuses."""


@st.composite
def emails(draw: st.DrawFn) -> str:
    """Plain ASCII addresses under example.com / example.org (some with a sub-domain)."""
    local = draw(_LOCAL)
    base = draw(st.sampled_from(["example.com", "example.org"]))
    sub = draw(st.lists(_LABEL, max_size=2))
    return f"{local}@{'.'.join([*sub, base])}"


def device_ids() -> st.SearchStrategy[str]:
    """IMEIs, UUIDs (any case), hex ids (any case) and opaque printable tokens."""
    hex_ids = st.text(alphabet="0123456789abcdefABCDEF", min_size=4, max_size=64)
    opaque = st.from_regex(r"[A-Za-z_][A-Za-z0-9_:.=/+-]{3,40}", fullmatch=True)
    return st.one_of(
        imeis(),
        st.uuids().map(str),
        st.uuids().map(lambda u: str(u).upper()),
        hex_ids,
        opaque,
    )


def id_numbers() -> st.SearchStrategy[str]:
    """Chinese resident IDs (with or without CN:) and other countries' numbers with a prefix."""
    foreign = st.tuples(
        st.sampled_from(["HK", "GB", "US", "SG"]),
        st.text(alphabet=_DIGITS + _UPPER, min_size=4, max_size=20),
    ).map(lambda pair: f"{pair[0]}:{pair[1]}")
    return st.one_of(cn_resident_ids(), cn_resident_ids().map("CN:".__add__), foreign)


def valid_raw(entity_type: EntityType) -> st.SearchStrategy[str]:
    """Valid raw identifiers of `entity_type`."""
    return {
        EntityType.ACCOUNT: st.one_of(ibans(), domestic_accounts()),
        EntityType.CARD: card_numbers(),
        EntityType.PHONE: st.one_of(cn_mobiles(), cn_mobiles().map("+86".__add__)),
        EntityType.DEVICE: device_ids(),
        EntityType.ID_NUMBER: id_numbers(),
        EntityType.IP: ip_texts(),
        EntityType.EMAIL: emails(),
    }[entity_type]


@st.composite
def separated(draw: st.DrawFn, text: str, separators: str = " -") -> str:
    """`text` with spaces or hyphens inserted between some characters."""
    out = []
    for index, char in enumerate(text):
        if index and draw(st.integers(0, 4)) == 0:
            out.append(draw(st.sampled_from(separators)))
        out.append(char)
    return "".join(out)


@st.composite
def recased(draw: st.DrawFn, text: str) -> str:
    """`text` with the case of some letters flipped."""
    return "".join(ch.swapcase() if draw(st.booleans()) else ch for ch in text)


def full_width(text: str) -> str:
    """ASCII digits and capitals replaced by their full-width forms (NFKC folds them back)."""
    return text.translate(_FULL_WIDTH)


@st.composite
def equivalent_spelling(draw: st.DrawFn, entity_type: EntityType, canonical: str) -> str:
    """Another raw spelling a bank might send that must normalise to `canonical`."""
    if entity_type in (EntityType.ACCOUNT, EntityType.CARD):
        spelled = draw(separated(canonical))
        spelled = draw(recased(spelled))
        return full_width(spelled) if draw(st.booleans()) else spelled
    if entity_type is EntityType.PHONE:
        number = phonenumbers.parse(canonical)
        style = draw(
            st.sampled_from(
                [
                    phonenumbers.PhoneNumberFormat.NATIONAL,
                    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                    phonenumbers.PhoneNumberFormat.RFC3966,
                ]
            )
        )
        text = phonenumbers.format_number(number, style)
        if draw(st.booleans()):
            text = "0086 " + canonical[3:]
        return text
    if entity_type is EntityType.DEVICE:
        if canonical.isdigit() and len(canonical) == 15:
            return draw(separated(canonical))
        if all(ch in "0123456789abcdef-" for ch in canonical):
            return draw(recased(canonical))
        return canonical
    if entity_type is EntityType.ID_NUMBER:
        country, _, number = canonical.partition(":")
        prefix = draw(st.sampled_from([f"{country}:", f"{country.lower()}:", f" {country} : "]))
        if country == "CN" and draw(st.booleans()):
            prefix = ""
        return prefix + draw(separated(draw(recased(number))))
    if entity_type is EntityType.IP:
        address = ipaddress.ip_address(canonical)
        if isinstance(address, ipaddress.IPv4Address):
            return draw(st.sampled_from([f"::ffff:{address}", f"::FFFF:{address}", canonical]))
        return draw(
            st.sampled_from([address.exploded.upper(), address.exploded, canonical.upper()])
        )
    local, _, domain = canonical.partition("@")
    return f"{draw(recased(local))}@{draw(recased(domain))}"
