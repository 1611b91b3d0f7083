"""Row validation: one feed row to one normalised, digested mutation, or the reasons it is bad."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser
from risklist_loader.rejects import Reject, shown
from risklist_loader.rows import FeedRow
from risklist_loader.timestamps import parse_timestamp
from risklist_server.core.contribution_rules import (
    LEVEL_NAMES,
    Problem,
    clean_reference,
    expires_at_problem,
    level_from_name,
    level_from_number,
    reference_problem,
    reported_at_problem,
)
from risklist_server.core.mutation import Mutation, Removal, Upsert
from risklist_server.core.record import Contribution
from risklist_server.core.settings import Settings

MAX_FIELD_LENGTH = 1024
"""Longest value of any field of a feed row, in characters; longer values are rejected as oversized."""

_ACTIONS = ("add", "remove")
_E = TypeVar("_E", EntityType, Category)


@dataclass(frozen=True, slots=True)
class ValidRow:
    """A row that passed: its mutation, what it speaks about, and whether it is an add already expired."""

    line: int
    mutation: Mutation
    dedupe_key: bytes
    """Storage key + category byte (0: a remove of every category): rows with equal keys speak about the same
    subject and category, and the last of them has the last word (risklist_loader.feed_order)."""
    expired: bool = False
    """An add whose expires_at is not after the validator's `now`: it ends that listing instead of adding it."""


class RowValidator:
    """Validates rows for one source; `now` (unix seconds) bounds reported_at and tells expired adds."""

    def __init__(
        self,
        source: str,
        normaliser: Normaliser,
        digester: Digester,
        settings: Settings,
        now: int,
    ) -> None:
        self._source = source
        self._normaliser = normaliser
        self._digester = digester
        self._settings = settings
        self._now = now

    def validate(self, row: FeedRow) -> ValidRow | list[Reject]:
        """The row's mutation, or every problem found in it (one Reject per bad field)."""
        check = _RowCheck(row)
        for name, value in row.values.items():
            if isinstance(value, str) and len(value) > MAX_FIELD_LENGTH:
                check.fail(name, f"oversized: {len(value)} characters; a field holds at most "
                           f"{MAX_FIELD_LENGTH}")
        action = check.choice("action", _ACTIONS)
        entity_type = check.enum("entity_type", EntityType)
        key = self._key(check, entity_type)
        if action == "remove":
            category = check.enum("category", Category, required=False)
            if check.rejects or key is None:
                return check.rejects
            return ValidRow(row.line, Removal(key, self._source, category),
                            key + bytes((category or 0,)))
        category = check.enum("category", Category)
        level = self._level(check)
        reported_at = check.timestamp("reported_at")
        expires_at = check.timestamp("expires_at", required=False)
        reference = self._reference(check)
        if reported_at is not None:
            check.problem(reported_at_problem(reported_at, self._now))
            if expires_at is not None:
                check.problem(expires_at_problem(reported_at, expires_at))
        if (check.rejects or action is None or key is None or category is None or level is None
                or reported_at is None):
            return check.rejects
        if expires_at is None:
            expires_at = reported_at + self._settings.retention_seconds(category)
        contribution = Contribution(self._source, category, level, reported_at, expires_at,
                                    reference or "")
        return ValidRow(row.line, Upsert(key, contribution), key + bytes((category,)),
                        expired=not contribution.is_live(self._now))

    def _key(self, check: _RowCheck, entity_type: EntityType | None) -> bytes | None:
        raw = check.text("identifier")
        if raw is None or entity_type is None or check.failed("identifier"):
            return None
        try:
            canonical = self._normaliser.normalise(entity_type, raw)
        except InvalidIdentifier as error:
            # Reasons never quote the identifier (risklist_kernel.identifiers guarantees it).
            check.fail("identifier", str(error))
            return None
        return self._digester.storage_key(entity_type, canonical)

    @staticmethod
    def _level(check: _RowCheck) -> RiskLevel | None:
        value = check.row.values.get("level")
        if isinstance(value, int) and not isinstance(value, bool):
            level = level_from_number(value)
            if isinstance(level, RiskLevel):
                return level
            check.fail("level", f"{shown(value)} is out of range; expected {LEVEL_NAMES}")
            return None
        text = check.text("level")
        if text is None:
            return None
        named = level_from_name(text)
        if named is None:
            check.fail("level", f"unknown level {shown(text)}; expected {LEVEL_NAMES}")
        return named

    @staticmethod
    def _reference(check: _RowCheck) -> str | None:
        text = check.text("reference", required=False)
        if text is None:
            return None
        reference = clean_reference(text)
        check.problem(reference_problem(reference))
        return reference


class _RowCheck:
    """Reads typed field values from one row, collecting a Reject per bad field."""

    def __init__(self, row: FeedRow) -> None:
        self.row = row
        self.rejects: list[Reject] = []

    def fail(self, field: str, reason: str) -> None:
        self.rejects.append(Reject(self.row.line, field, reason))

    def problem(self, problem: Problem | None) -> None:
        """Reject the row for a contribution rule's problem, if any."""
        if problem is not None:
            self.fail(problem.field, problem.reason)

    def failed(self, field: str) -> bool:
        return any(reject.field == field for reject in self.rejects)

    def text(self, field: str, *, required: bool = True) -> str | None:
        """The field's text, stripped; None (and a Reject when required) if absent or empty."""
        if self.failed(field):
            return None
        value = self.row.values.get(field)
        if value is not None and not isinstance(value, str):
            self.fail(field, f"must be a string, not {_json_type(value)}")
            return None
        text = "" if value is None else value.strip()
        if not text:
            if required:
                self.fail(field, "missing; this field is required" + self._for_add(field))
            return None
        return value if field == "identifier" else text

    def choice(self, field: str, accepted: tuple[str, ...]) -> str | None:
        text = self.text(field)
        if text is None:
            return None
        if text.lower() not in accepted:
            self.fail(field, f"unknown {field} {shown(text)}; expected {'|'.join(accepted)}")
            return None
        return text.lower()

    def enum(self, field: str, kind: type[_E], *, required: bool = True) -> _E | None:
        text = self.text(field, required=required)
        if text is None:
            return None
        try:
            return kind.from_feed_name(text)
        except ValueError:
            accepted = "|".join(member.feed_name for member in kind)
            self.fail(field, f"unknown {field} {shown(text)}; expected {accepted}")
            return None

    def timestamp(self, field: str, *, required: bool = True) -> int | None:
        text = self.text(field, required=required)
        if text is None:
            return None
        try:
            return parse_timestamp(text)
        except ValueError as error:
            self.fail(field, str(error))
            return None

    def _for_add(self, field: str) -> str:
        return " for add rows" if field in ("category", "level", "reported_at") else ""


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

