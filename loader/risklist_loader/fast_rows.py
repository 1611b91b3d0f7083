"""The fast path of pass 1 for plain CSV lines: the common valid row, or None to take the general path.

It accepts a line only when the general path (LineReader, CsvFeed, RowValidator) would accept it
with the same mutation: ASCII, no quotes, as many fields as the header, every field in a form
this module recognises exactly and valid. Everything else (and so every reject) goes the general
way, which keeps messages and edge cases in one place. The rules themselves (names, reference, dates)
are risklist_server.core.contribution_rules', and the tail bytes core.record's pack_tail.
tests/loader/test_loader_parallel.py and test_loader_contribution_rules.py check agreement with the general
path, tests/loader/test_loader_fast_rows.py that the bytes are encode_record's.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from operator import itemgetter

from risklist_kernel.digest import DIGEST_SIZE, PERSONALISATION
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import MAX_RAW_LENGTH, Normaliser, ascii_fast_rule
from risklist_kernel.secret import NetworkSecret
from risklist_loader.rows import ADD_COLUMNS
from risklist_loader.timestamps import EARLIEST, LATEST
from risklist_server.core.contribution_rules import (
    category_from_name,
    clean_reference,
    expires_at_problem,
    level_from_name,
    reference_problem,
    reported_at_problem,
)
from risklist_server.core.record import pack_tail
from risklist_server.core.settings import Settings

FAST_LINE_BYTES = 1024
"""Longer lines take the general path (so no field can be oversized here)."""

_EPOCH_DAY = date(1970, 1, 1).toordinal()


def _spellings(names: list[str], parse: Callable[[str], int | None]) -> dict[str, int]:
    """Each name as written in lower, upper and capitalised case, with what the rule reads it as."""
    found: dict[str, int] = {}
    for name in names:
        for spelling in (name, name.upper(), name.capitalize()):
            value = parse(spelling)
            if value is not None:
                found[spelling] = int(value)
    return found


_PICKED = ("action", "entity_type", "identifier", "category", "level", "reported_at", "expires_at", "reference")
_TWO_DIGITS = [f"{number:02d}" for number in range(60)]


@functools.cache
def _clock() -> dict[str, int]:
    """HH:MM:SS -> seconds of the day (in this order the seconds count up from 0; built by joining, not formatting).
    Built on first use (some 20 ms): most rows' timestamps are read a column at a time (vector_rows)."""
    return dict(zip((hour + ":" + minute + ":" + second for hour in _TWO_DIGITS[:24] for minute in _TWO_DIGITS
                     for second in _TWO_DIGITS), range(24 * 3600), strict=True))


_OFFSET = {f"{sign}{hours:02d}:{minutes:02d}": (1 if sign == "+" else -1) * (hours * 3600 + minutes * 60)
           for sign in "+-" for hours in range(24) for minutes in range(60)}
_OFFSET["Z"] = 0
"""The UTC offsets datetime.fromisoformat reads (+HH:MM, -HH:MM, Z) -> seconds east of UTC."""
_TYPES = {member.feed_name: member for member in EntityType}
_CATEGORIES = _spellings([member.feed_name for member in Category], category_from_name)
_LEVELS = _spellings([*(member.feed_name for member in RiskLevel), *(str(member.value) for member in RiskLevel)],
                     level_from_name)


class FastRows:
    """Turns a CSV line (bytes, no line end) into (storage key, action, category, tail) or None."""

    def __init__(
        self,
        columns: tuple[str, ...],
        normaliser: Normaliser,
        secret: NetworkSecret,
        settings: Settings,
        now: int,
    ) -> None:
        self._count = len(columns)
        index = {name: position for position, name in enumerate(columns)}
        self.adds_allowed = all(name in index for name in ADD_COLUMNS)
        """Whether the header has every column an add row needs."""
        self.types, self.categories, self.levels = _TYPES, _CATEGORIES, _LEVELS
        """The spellings this path reads, exactly as written: type names, categories and levels."""
        self._normalise = normaliser.normalise
        self.region = normaliser.default_region
        """The default region of phone numbers and IDs without a country."""
        self._fast_rules = {member: ascii_fast_rule(member) for member in EntityType}
        # The digests of risklist_kernel.digest.Digester, with the hashers at hand.
        self._hashers = {
            member: hashlib.blake2b(digest_size=DIGEST_SIZE, key=secret.key, person=PERSONALISATION[member])
            for member in EntityType
        }
        self._type_bytes = {member: bytes((member,)) for member in EntityType}
        # The same by number: an int hashes in C, an enum member through Python (keys_of_canonical's loop).
        self._hashers_by_number = {int(member): hasher for member, hasher in self._hashers.items()}
        self._type_bytes_by_number = {int(member): prefix for member, prefix in self._type_bytes.items()}
        # The fields this path reads, in a fixed order; an absent optional column reads as "".
        positions = [index.get(name, self._count) for name in _PICKED]
        picker = itemgetter(*positions)
        self._pick: Callable[[list[str]], tuple[str, ...]] = lambda fields: picker([*fields, ""])
        if all(name in index for name in _PICKED):
            self._pick = picker
        self.retention = {category.value: settings.retention_seconds(category) for category in Category}
        """Seconds a category's row is listed when it gives no expires_at."""
        self.now = now
        self._days: dict[str, int | None] = {}

    def row(self, data: bytes) -> tuple[bytes, int, int, bytes] | None:
        """(key, 1 add / 2 remove / 3 expired add, category or 0, tail) for a plain valid row, else None."""
        if len(data) > FAST_LINE_BYTES or not data.isascii() or b'"' in data or b"\r" in data:
            return None
        fields = data.decode("ascii").split(",")
        if len(fields) != self._count:
            return None
        action, type_name, raw, category_name, level_name, reported_text, expires_text, reference = (
            self._pick(fields)
        )
        entity_type = _TYPES.get(type_name)
        if entity_type is None:
            return None
        if action == "add":
            if not self.adds_allowed:
                return None
        elif action != "remove":
            return None
        key = self.key(entity_type, raw)
        if key is None:
            return None
        if action == "remove":
            if not category_name:
                return key, 2, 0, b""
            category = _CATEGORIES.get(category_name)
            return None if category is None else (key, 2, category, b"")
        category = _CATEGORIES.get(category_name)
        level = _LEVELS.get(level_name)
        reported = self._timestamp(reported_text)
        if category is None or level is None or reported is None or reported_at_problem(reported, self.now):
            return None
        if expires_text:
            expires = self._timestamp(expires_text)
            if expires is None or expires_at_problem(reported, expires):
                return None
        else:
            expires = reported + self.retention[category]
        if reference:
            reference = clean_reference(reference)
            if reference_problem(reference):
                return None
        kind = 1 if expires > self.now else 3  # 3: expired (risklist_loader.spool.EXPIRED)
        return key, kind, category, pack_tail(category, level, reported, expires, reference.encode())

    def key(self, entity_type: EntityType, raw: str) -> bytes | None:
        """The storage key of an identifier of the fast forms (or that the general normaliser accepts), else None."""
        if not raw or raw.isspace():
            return None
        rule = self._fast_rules[entity_type]
        canonical = rule(raw.strip(), self.region) if rule is not None and len(raw) <= MAX_RAW_LENGTH else None
        if canonical is None:
            try:
                canonical = self._normalise(entity_type, raw)
            except InvalidIdentifier:
                return None
        hasher = self._hashers[entity_type].copy()
        hasher.update(canonical.encode())
        return self._type_bytes[entity_type] + hasher.digest()

    def keys_of_canonical(self, entity_types: list[int], canonicals: list[bytes]) -> bytes:
        """The storage keys of identifiers already in canonical form (ASCII), as key() makes them, concatenated
        (KEY_SIZE bytes each); `entity_types` as numbers."""
        hashers, type_bytes = self._hashers_by_number, self._type_bytes_by_number
        keys = []
        for entity_type, canonical in zip(entity_types, canonicals, strict=True):
            hasher = hashers[entity_type].copy()
            hasher.update(canonical)
            keys.append(type_bytes[entity_type])
            keys.append(hasher.digest())
        return b"".join(keys)

    def _timestamp(self, text: str) -> int | None:
        """risklist_loader.timestamps.parse_timestamp for its common forms, else None."""
        day = self._days.get(text[:10], -1)
        if day == -1:
            day = self._day(text[:10])
        if day is None:
            return None
        if len(text) == 10:
            return day
        if text[10] not in "T ":
            return None
        clock = _clock().get(text[11:19])
        offset = _OFFSET.get(text[19:])
        if clock is None or offset is None:
            return None
        moment = day + clock - offset
        return moment if EARLIEST <= moment <= LATEST else None

    def _day(self, text: str) -> int | None:
        """Unix seconds of midnight UTC of a YYYY-MM-DD date (cached), else None."""
        known = self._days.get(text, -1)
        if known != -1:
            return known
        seconds: int | None = None
        if len(text) == 10 and text[4] == "-" and text[7] == "-" and (text[:4] + text[5:7] + text[8:]).isdigit():
            try:
                seconds = (date.fromisoformat(text).toordinal() - _EPOCH_DAY) * 86_400
            except ValueError:
                seconds = None
            if seconds is not None and not EARLIEST <= seconds <= LATEST:
                seconds = None
        if len(self._days) < 100_000:
            self._days[text] = seconds
        return seconds


def _check_epoch() -> None:
    """The day arithmetic above matches datetime's (a guard, run at import)."""
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    assert (date(2026, 3, 1).toordinal() - _EPOCH_DAY) * 86_400 == int(moment.timestamp())


_check_epoch()
