"""Normalise raw identifiers per entity type (docs/identifiers.md is the spec)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import email_validator
import phonenumbers
from stdnum import iban, imei, luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError
from stdnum.util import clean

from server.core.enums import EntityType
from server.core.errors import InvalidIdentifier

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
        if not isinstance(raw, str):
            raise InvalidIdentifier(entity_type.feed_name, "the identifier must be text")
        if len(raw) > MAX_RAW_LENGTH:
            raise InvalidIdentifier(
                entity_type.feed_name,
                f"{len(raw)} characters, longer than the maximum of {MAX_RAW_LENGTH}",
            )
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
