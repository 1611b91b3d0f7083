"""Normalise raw identifiers per entity type (docs/identifiers.md is the spec)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import email_validator
import phonenumbers
from stdnum import iban, imei, luhn, numdb
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent, ValidationError
from stdnum.util import clean

from risklist_kernel.enums import EntityType
from risklist_kernel.errors import InvalidIdentifier

MAX_RAW_LENGTH = 256
"""Longest raw identifier accepted, in characters, before any normalisation."""

_SEPARATORS = " -./\t"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class Normaliser:
    """Turns raw identifiers into their canonical text; `default_region` serves phones and IDs."""

    default_region: str = "CN"

    def normalise(self, entity_type: EntityType, raw: str) -> str:
        """Return the canonical form of `raw`, or raise InvalidIdentifier saying why."""
        _check_raw(entity_type, raw)
        if raw.isascii():
            # NFKC leaves ASCII text as it is; a fast path answers the common valid cases exactly
            # as the rule would (tests/kernel/test_kernel_identifiers_fast.py), else None.
            text = raw.strip()
            fast = _FAST_RULES.get(entity_type)
            if fast is not None and text:
                canonical = fast(text, self.default_region)
                if canonical is not None:
                    return canonical
        else:
            text = unicodedata.normalize("NFKC", raw).strip()
        if not text:
            raise InvalidIdentifier(entity_type.feed_name, "the identifier is empty")
        return _RULES[entity_type](self, text)

    def warm_up(self) -> None:
        """Load now what the rules load on first use (python-stdnum's tables, phonenumbers' metadata for the default
        region, the IDNA codec: 30 ms and more), so no caller's first identifier pays for it."""
        example = phonenumbers.example_number_for_type(self.default_region, phonenumbers.PhoneNumberType.MOBILE)
        phone = [] if example is None else [(EntityType.PHONE, phonenumbers.format_number(
            example, phonenumbers.PhoneNumberFormat.E164))]
        for entity_type, raw in [*_WARM_UP_EXAMPLES, *phone]:
            self.normalise(entity_type, raw)
            self.normalise_general(entity_type, raw)

    def normalise_general(self, entity_type: EntityType, raw: str) -> str:
        """normalise() without the fast paths: the spec's rules alone (for tests and checks)."""
        _check_raw(entity_type, raw)
        text = unicodedata.normalize("NFKC", raw).strip()
        if not text:
            raise InvalidIdentifier(entity_type.feed_name, "the identifier is empty")
        return _RULES[entity_type](self, text)


def _account(_: Normaliser, text: str) -> str:
    compact = clean(text, _SEPARATORS).upper()
    if len(compact) >= 4 and compact[:2].isalpha() and compact[2:4].isdigit():
        try:
            return str(iban.validate(compact))
        except ValidationError as error:
            raise InvalidIdentifier("account", f"looks like an IBAN but is not one: {error}") from None
    if not compact.isascii() or not compact.isalnum():
        raise InvalidIdentifier(
            "account", "only letters and digits are allowed (spaces and hyphens are ignored)"
        )
    if not 4 <= len(compact) <= 34:
        raise InvalidIdentifier("account", f"{len(compact)} characters; expected 4 to 34")
    return compact


def _card(_: Normaliser, text: str) -> str:
    compact = clean(text, _SEPARATORS)
    if not compact.isascii() or not compact.isdigit():
        raise InvalidIdentifier("card", "a card number has only digits (spaces and hyphens are ignored)")
    if not 12 <= len(compact) <= 19:
        raise InvalidIdentifier("card", f"{len(compact)} digits; a card number has 12 to 19")
    try:
        luhn.validate(compact)
    except ValidationError:
        raise InvalidIdentifier("card", "the Luhn check digit is wrong") from None
    return compact


def _phone(normaliser: Normaliser, text: str) -> str:
    try:
        number = phonenumbers.parse(text, normaliser.default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidIdentifier("phone", f"cannot be parsed as a phone number ({error._msg})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(
            "phone",
            f"not a valid number (default region {normaliser.default_region}; "
            "give numbers of other countries with +country code)",
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _device(_: Normaliser, text: str) -> str:
    compact = clean(text, " -")
    if compact.isascii() and compact.isdigit() and 14 <= len(compact) <= 16:
        try:
            return str(imei.validate(compact))
        except ValidationError:
            raise InvalidIdentifier("device", "looks like an IMEI but its check digit is wrong") from None
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise InvalidIdentifier("device", "a device id may not contain spaces or control characters")
    if len(text) < 4:
        raise InvalidIdentifier("device", f"{len(text)} characters; a device id has at least 4")
    return _device_form(text)


def _device_form(text: str) -> str:
    """A checked device id's canonical form: UUID layout for 32 hex digits, lower-case hex, else as is."""
    as_uuid = _uuid_form(text)
    if as_uuid is not None:
        return as_uuid
    if all(ch in _HEX_DIGITS for ch in text):
        return text.lower()
    return text


def _uuid_form(text: str) -> str | None:
    """The hyphenated lower-case UUID if `text` spells one (32 hex digits, hyphens anywhere,
    optional braces and urn:uuid: prefix), else None. uuid.UUID alone is too lenient: its
    int(..., 16) also takes 0x, signs and underscores, merging distinct opaque device ids."""
    body = text[9:] if text[:9].lower() == "urn:uuid:" else text
    if body[:1] == "{" and body[-1:] == "}":
        body = body[1:-1]
    hex_digits = body.replace("-", "")
    if len(hex_digits) != 32 or not all(ch in _HEX_DIGITS for ch in hex_digits):
        return None
    return str(uuid.UUID(hex=hex_digits))


def _id_number(normaliser: Normaliser, text: str) -> str:
    country, sep, number = text.partition(":")
    if not sep:
        country, number = normaliser.default_region, text
    country = country.strip().upper()
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        raise InvalidIdentifier("id_number", "the prefix before ':' is not a two-letter country code (CN:...)")
    compact = clean(number, _SEPARATORS).upper()
    if country == "CN":
        try:
            compact = str(ric.validate(compact))
        except ValidationError as error:
            raise InvalidIdentifier("id_number", f"not a valid Chinese resident ID: {error}") from None
        except KeyError:  # stdnum 2.2 on a place code its table holds without a county (see _ric_county_years)
            raise InvalidIdentifier("id_number", f"not a valid Chinese resident ID: {InvalidComponent()}") from None
    elif not compact.isascii() or not compact.isalnum() or not 4 <= len(compact) <= 32:
        raise InvalidIdentifier("id_number", "expected 4 to 32 letters and digits after the country code")
    return f"{country}:{compact}"


def _ip(_: Normaliser, text: str) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidIdentifier("ip", "not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            raise InvalidIdentifier("ip", "an address with a zone (%...) cannot be listed")
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    return address.compressed


def _email(_: Normaliser, text: str) -> str:
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        # Parenthesised details (IDNA, ipaddress) may quote parts of the address: drop them.
        raise InvalidIdentifier("email", re.sub(r"\s*\(.*\)", "", str(error))) from None
    return str(result.normalized).lower()


_RULES: dict[EntityType, Callable[[Normaliser, str], str]] = {
    EntityType.ACCOUNT: _account,
    EntityType.CARD: _card,
    EntityType.PHONE: _phone,
    EntityType.DEVICE: _device,
    EntityType.ID_NUMBER: _id_number,
    EntityType.IP: _ip,
    EntityType.EMAIL: _email,
}


_WARM_UP_EXAMPLES = (
    (EntityType.ACCOUNT, "GB82 WEST 1234 5698 7654 32"), (EntityType.CARD, "4111 1111 1111 1111"),
    (EntityType.PHONE, "+86 138 0013 8000"), (EntityType.DEVICE, "35-209900-176148-1"),
    (EntityType.ID_NUMBER, "CN:11010519491231002X"), (EntityType.IP, "2001:db8::1"),
    (EntityType.EMAIL, "user@bücher.example"),
)
"""One valid identifier of each type, some taking the slower general forms (IBAN, IPv6, IDNA): Normaliser.warm_up."""


# ---- fast paths -------------------------------------------------------------------------------
# For ASCII text only (NFKC leaves it unchanged), already stripped and non-empty. Each returns the
# canonical form exactly as the rule above would, or None when it is not sure (then the rule
# decides, and raises for invalid input): so only valid identifiers take a fast path, and errors
# always come from the rules. stdnum's `clean` maps the ASCII backtick to an apostrophe, so text
# holding one always takes the rule. tests/kernel/test_kernel_identifiers_fast.py checks agreement.

_DELETE_SEPARATORS = str.maketrans("", "", _SEPARATORS)
_DELETE_SPACE_HYPHEN = str.maketrans("", "", " -")
_LUHN_DOUBLED = bytes((2 * (c - 48)) % 9 if 48 <= c <= 56 else 9 if c == 57 else 0 for c in range(256))
_IBAN_LETTERS = str.maketrans({chr(65 + n): str(10 + n) for n in range(26)})
_CN_MOBILE = re.compile(r"(?:(?:\+86|0086)[ -]?)?(1[3-9]\d(?:[ -]?\d){8})")
_iban_countries: dict[str, tuple[re.Pattern[str], bool] | None] = {}
RIC_DATES_REMEMBERED = 1 << 16
"""Birth-date checks of resident IDs remembered (the most recently used): the days of some 180 years."""
RIC_PLACES_REMEMBERED = 1 << 16
"""Place codes whose counties' years are remembered (the most recently used): python-stdnum's table has some 6,900
codes with a county, so a real feed's all fit, and IDs of ever new codes (a member's raw values) cannot grow a
process without bound (some 10 MB at most)."""


def _luhn_valid(digits: str) -> bool:
    """stdnum.luhn's check for ASCII digits, with table lookups."""
    data = digits.encode()
    plain = data[-1::-2]
    total = sum(plain) - 48 * len(plain) + sum(_LUHN_DOUBLED[c] for c in data[-2::-2])
    return total % 10 == 0


def _fast_account(text: str, _: str) -> str | None:
    if "`" in text:
        return None
    compact = text.translate(_DELETE_SEPARATORS).upper()
    if len(compact) >= 4 and compact[:2].isalpha() and compact[2:4].isdigit():
        return _fast_iban(compact)
    if compact.isalnum() and 4 <= len(compact) <= 34:
        return compact
    return None


def _fast_iban(compact: str) -> str | None:
    """stdnum.iban.validate for countries without a national check module, else None."""
    if not compact.isalnum():
        return None
    bban_pattern = fast_iban_bban(compact)
    if bban_pattern is None or int((compact[4:] + compact[:4]).translate(_IBAN_LETTERS)) % 97 != 1:
        return None
    return compact if bban_pattern.match(compact[4:]) else None


def fast_iban_bban(compact: str) -> re.Pattern[str] | None:
    """The BBAN pattern of the country of an IBAN (upper-case letters and digits) whose fast rule needs nothing
    more than pattern and check digits; None for a country stdnum does not know or checks by its own module."""
    country = compact[:2]
    if country not in _iban_countries:
        _iban_countries[country] = _iban_country(compact)
    known = _iban_countries[country]
    if known is None or known[1]:
        return None
    return known[0]


def _iban_country(compact: str) -> tuple[re.Pattern[str], bool] | None:
    """The BBAN pattern of a country stdnum knows (looked up once per country), else None."""
    info = iban._ibandb.info(compact)
    if not info or info[0][0] != compact[:2] or not info[0][1]:
        return None
    pattern = iban._struct_to_re(info[0][1].get("bban", ""))
    return pattern, iban._get_cc_module(compact[:2]) is not None


def _fast_card(text: str, _: str) -> str | None:
    if "`" in text:
        return None
    compact = text.translate(_DELETE_SEPARATORS)
    if compact.isdigit() and 12 <= len(compact) <= 19 and _luhn_valid(compact):
        return compact
    return None


def _fast_phone(text: str, default_region: str) -> str | None:
    """Chinese mobile numbers (national, +86 or 0086, single spaces or hyphens between digits)."""
    if default_region != "CN":
        return None
    match = _CN_MOBILE.fullmatch(text)
    if match is None:
        return None
    national = match.group(1).translate(_DELETE_SPACE_HYPHEN)
    if national.startswith("179"):  # a carrier prefix libphonenumber may strip when parsing
        return None
    if surely_valid_cn_mobile(national):
        return "+86" + national
    number = phonenumbers.PhoneNumber(country_code=86, national_number=int(national))
    return "+86" + national if phonenumbers.is_valid_number(number) else None


def _number_description(description: phonenumbers.PhoneNumberDesc | None) -> tuple[frozenset[int], re.Pattern[str]]:
    """The possible lengths and pattern of one of phonenumbers' number descriptions (none: matches nothing)."""
    if description is None or not description.national_number_pattern:
        return frozenset({-1}), re.compile("(?!)")
    return frozenset(description.possible_length), re.compile(description.national_number_pattern)


_CN_METADATA = phonenumbers.PhoneMetadata.metadata_for_region("CN")
_CN_GENERAL = _number_description(_CN_METADATA.general_desc if _CN_METADATA else None)
_CN_MOBILE_NUMBER = _number_description(_CN_METADATA.mobile if _CN_METADATA else None)


def surely_valid_cn_mobile(national: str) -> bool:
    """True only when phonenumbers.is_valid_number holds for +86 `national` (ASCII digits, no leading zero):
    the number fits CN's general and mobile descriptions, lengths and patterns, as phonenumbers tests them.
    False means "not sure": call the rules."""
    return all((not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None
               for lengths, pattern in (_CN_GENERAL, _CN_MOBILE_NUMBER))


def _fast_device(text: str, _: str) -> str | None:
    if "`" in text:
        return None
    compact = text.translate(_DELETE_SPACE_HYPHEN)
    if compact.isdigit() and 14 <= len(compact) <= 16:
        return compact if len(compact) != 15 or _luhn_valid(compact) else None
    if " " in text or not text.isprintable() or len(text) < 4:
        return None
    return _device_form(text)


def _fast_id_number(text: str, default_region: str) -> str | None:
    country, sep, number = text.partition(":")
    if not sep:
        country, number = default_region, text
    country = country.strip().upper()
    if len(country) != 2 or not country.isalpha() or "`" in number:
        return None
    compact = number.translate(_DELETE_SEPARATORS).upper()
    if country != "CN":
        return f"{country}:{compact}" if compact.isalnum() and 4 <= len(compact) <= 32 else None
    if len(compact) != 18 or not compact[:17].isdigit() or compact[17] not in "0123456789X":
        return None
    if compact[17] != ric.calc_check_digit(compact) or not resident_id_known(compact[:6], int(compact[6:14])):
        return None
    return f"CN:{compact}"


def resident_id_known(place: str, birth: int) -> bool:
    """Whether a Chinese resident ID's place code (its first six digits) and birth date (the next eight, YYYYMMDD
    read as a number) are ones python-stdnum accepts, as the fast ID rule checks them after the check digit
    (each remembered: callers that read IDs in bulk ask once per distinct value)."""
    return _ric_date_known(birth) and _ric_place_known_in(place, birth // 10_000)


@lru_cache(maxsize=RIC_DATES_REMEMBERED)
def _ric_date_known(birth: int) -> bool:
    """Whether YYYYMMDD (digits 7-14 of a resident ID) is a date, as stdnum's get_birth_date checks it."""
    try:
        ric.get_birth_date(f"000000{birth:08d}0000")
    except ValidationError:
        return False
    return True


_ANY_YEAR = ((None, None),)
"""A county with no years in stdnum's table: a place of birth in any year."""


def _ric_place_known_in(place: str, year: int) -> bool:
    """Whether resident-ID place code `place` names a county in `year`, as stdnum's get_birth_place decides it."""
    spans = _ric_county_years(place)
    return any((start is None or year >= start) and (end is None or year <= end) for start, end in spans)


@lru_cache(maxsize=RIC_PLACES_REMEMBERED)
def _ric_county_years(place: str) -> tuple[tuple[int | None, int | None], ...]:
    """The years (first, last; None: open) in which place code `place` named a county, read from python-stdnum's
    table as its get_birth_place reads it: its counties are `name` (any year) or `[first-last]name`. No county
    (an unknown code, or one the table holds only as a province or prefecture, for which stdnum 2.2 raises
    KeyError): no year. tests/kernel/test_kernel_identifiers_fast.py checks agreement with stdnum."""
    info = {key: value for _, properties in numdb.get("cn/loc").info(place) for key, value in properties.items()}
    if "county" not in info:
        return ()
    spans: list[tuple[int | None, int | None]] = []
    for county in info["county"].split(","):
        if not county.startswith("["):
            return _ANY_YEAR
        try:
            first, last = county[1:].split("]")[0].split("-")
            spans.append((int(first) if first else None, int(last) if last else None))
        except ValueError:  # a form this reading does not know: no fast answer, the rule (stdnum) decides
            return ()
    return tuple(spans)


def remembered_ric_checks() -> tuple[int, int]:
    """(place codes, date checks) the resident-ID fast path remembers now."""
    return _ric_county_years.cache_info().currsize, _ric_date_known.cache_info().currsize


_IPV4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_IPV4_OCTET}(?:\.{_IPV4_OCTET}){{3}}")


def _fast_ip(text: str, _: str) -> str | None:
    """Dotted IPv4 without leading zeros: ipaddress gives it back as written."""
    return text if _IPV4.fullmatch(text) else None


_SIMPLE_LOCAL = re.compile(r"[A-Za-z0-9+_-]+(?:\.[A-Za-z0-9+_-]+)*")
_MAX_LOCAL, _MAX_ADDRESS = 64, 254
_MAX_CACHED_DOMAINS = 65_536
_email_domains: dict[str, str] = {}
"""Domains asked of email-validator: their canonical form, or "" where the rule must decide (threads share it)."""


def _fast_email(text: str, _: str) -> str | None:
    """Addresses whose local part is a plain dot-atom and whose domain email-validator keeps in ASCII (each domain
    asked once); email-validator decides everything else."""
    local, at, domain = text.rpartition("@")
    if not at or len(local) > _MAX_LOCAL or len(text) > _MAX_ADDRESS or not _SIMPLE_LOCAL.fullmatch(local):
        return None
    canonical_domain = _email_domains.get(domain)
    if canonical_domain is None:
        canonical_domain = _ascii_email_domain(domain) or ""
        if len(_email_domains) >= _MAX_CACHED_DOMAINS:
            _email_domains.clear()
        _email_domains[domain] = canonical_domain
    return f"{local}@{canonical_domain}".lower() if canonical_domain else None


def _ascii_email_domain(domain: str) -> str | None:
    """email-validator's normalised form of `domain`, when it accepts it and keeps it ASCII, else None."""
    try:
        normalized = str(email_validator.validate_email(f"a@{domain}", check_deliverability=False).normalized)
    except email_validator.EmailNotValidError:
        return None
    canonical = normalized.partition("@")[2]
    return canonical if canonical.isascii() and len(canonical) == len(domain) else None


_FAST_RULES: dict[EntityType, Callable[[str, str], str | None]] = {
    EntityType.ACCOUNT: _fast_account,
    EntityType.CARD: _fast_card,
    EntityType.PHONE: _fast_phone,
    EntityType.DEVICE: _fast_device,
    EntityType.ID_NUMBER: _fast_id_number,
    EntityType.IP: _fast_ip,
    EntityType.EMAIL: _fast_email,
}


def ascii_fast_rule(entity_type: EntityType) -> Callable[[str, str], str | None] | None:
    """The fast path of a type, for callers that batch many identifiers: call it as
    rule(text, default_region) with ASCII text of at most MAX_RAW_LENGTH characters, stripped and
    non-empty; it returns what Normaliser(default_region).normalise would, or None when the
    general rules must decide (then call normalise). None when the type has no fast path."""
    return _FAST_RULES.get(entity_type)


def _check_raw(entity_type: EntityType, raw: object) -> None:
    """Refuse what is not text, or longer than any identifier could be."""
    if not isinstance(raw, str):
        raise InvalidIdentifier(entity_type.feed_name, "the identifier must be text")
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidIdentifier(
            entity_type.feed_name,
            f"{len(raw)} characters, longer than the maximum of {MAX_RAW_LENGTH}",
        )
