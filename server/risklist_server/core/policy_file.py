"""Reading a policy file (TOML): every error names the file, the line and the reason."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risklist_kernel.enums import Action, Category, RiskLevel
from risklist_server.core.errors import PolicyError
from risklist_server.core.policy import Policy, Rule

RULE_KEYS = ("action", "reason_code", "description", "categories", "min_level", "min_sources", "max_age_days",
             "min_source_precision", "unknown_precision", "allow_single_source")
DEFAULT_KEYS = ("action", "reason_code", "description", "allow_single_source")
TOP_KEYS = ("rule", "default")

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")
_RULE_HEADER = re.compile(r"\s*\[\[\s*rule\s*\]\]")
_DEFAULT_HEADER = re.compile(r"\s*\[\s*default\s*\]")
_ANY_HEADER = re.compile(r"\s*\[")
_KEY = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")


def load_policy(path: str | Path) -> Policy:
    """The policy in `path`; raise PolicyError (file, line, reason) if it cannot be used."""
    return parse_policy(read_policy_file(path), origin=str(path))


def read_policy_file(path: str | Path) -> bytes:
    """A policy file's bytes; PolicyError naming the file if it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise PolicyError(str(path), 0, "the policy file does not exist") from None
    except OSError as error:
        raise PolicyError(str(path), 0, f"cannot read the policy file: {error.strerror or error}") from None


def policy_version(data: bytes) -> str:
    """What logs call a policy: the first 12 hex digits of its file's SHA-256."""
    return hashlib.sha256(data).hexdigest()[:12]


def parse_policy(data: bytes, *, origin: str) -> Policy:
    """Parse a policy file's bytes; `origin` names it in errors and in the Policy."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise PolicyError(origin, line, "the file is not UTF-8 text") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(origin, _toml_error_line(str(error), text), f"not valid TOML: {error}") from None
    lines = _Lines(text)
    unknown = sorted(set(document) - set(TOP_KEYS))
    if unknown:
        raise PolicyError(origin, lines.top_key(unknown[0]),
                          f"unknown key {unknown[0]!r}; a policy has [[rule]] tables and one [default] table")
    tables = document.get("rule", [])
    if not isinstance(tables, list):
        raise PolicyError(origin, lines.top_key("rule"), "rule must be written as [[rule]] tables")
    rules = tuple(_rule(table, _Where(origin, lines, number)) for number, table in enumerate(tables, 1))
    if "default" not in document:
        raise PolicyError(origin, 0, "the [default] table is missing: say what to do with listed subjects "
                          "no rule matches (e.g. action = \"REVIEW\", reason_code = \"REVIEW_LISTED\")")
    default = _rule(document["default"], _Where(origin, lines, 0))
    return Policy(rules, default, version=policy_version(data), origin=origin)


def _toml_error_line(message: str, text: str) -> int:
    found = _TOML_POSITION.search(message)
    if found is None:
        return 0
    if found.group(1) is None:  # at end of document
        return text.count("\n") + (0 if text.endswith("\n") else 1)
    return int(found.group(1))


class _Lines:
    """Where tables and keys are in the text, found by their headers (tomllib gives no positions)."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._rule_headers = [n for n, line in enumerate(self._lines, 1) if _RULE_HEADER.match(line)]
        self._default_header = next((n for n, line in enumerate(self._lines, 1) if _DEFAULT_HEADER.match(line)), 0)

    def header(self, rule_number: int) -> int:
        """The line of the n-th [[rule]] header (1-based), or of [default] for 0; 0 if not found."""
        if rule_number == 0:
            return self._default_header
        return self._rule_headers[rule_number - 1] if rule_number <= len(self._rule_headers) else 0

    def key(self, rule_number: int, key: str) -> int:
        """The line setting `key` in that table, else the table's header line."""
        start = self.header(rule_number)
        if start == 0:
            return 0
        for number in range(start + 1, len(self._lines) + 1):
            line = self._lines[number - 1]
            if _ANY_HEADER.match(line):
                break
            found = _KEY.match(line)
            if found and found.group(1) == key:
                return number
        return start

    def top_key(self, key: str) -> int:
        """The line of a top-level key or table named `key`; 0 if not found."""
        for number, line in enumerate(self._lines, 1):
            if _ANY_HEADER.match(line):
                if re.match(rf"\s*\[+\s*{re.escape(key)}\b", line):
                    return number
                continue
            found = _KEY.match(line)
            if found and found.group(1) == key:
                return number
        return 0


@dataclass(frozen=True, slots=True)
class _Where:
    """A table being read: the file, its lines, and which rule (0: the default)."""

    origin: str
    lines: _Lines
    number: int

    @property
    def name(self) -> str:
        return "[default]" if self.number == 0 else f"rule {self.number}"

    def error(self, reason: str, key: str | None = None) -> PolicyError:
        line = self.lines.header(self.number) if key is None else self.lines.key(self.number, key)
        return PolicyError(self.origin, line, f"{self.name}: {reason}")


def _rule(table: Any, where: _Where) -> Rule:
    if not isinstance(table, dict):
        raise where.error("must be a table of keys")
    allowed = RULE_KEYS if where.number else DEFAULT_KEYS
    for key in table:
        if key not in allowed:
            hint = ("; conditions belong in [[rule]] tables" if where.number == 0 and key in RULE_KEYS
                    else f"; known keys: {', '.join(allowed)}")
            raise where.error(f"unknown key {key!r}{hint}", key)
    for key in ("action", "reason_code"):
        if key not in table:
            raise where.error(f"{key} is required")
    fields: dict[str, Any] = {
        "action": _action(table["action"], where),
        "reason_code": _string(table, "reason_code", where),
    }
    if "description" in table:
        _string(table, "description", where)
    if "categories" in table:
        fields["categories"] = _categories(table["categories"], where)
    if "min_level" in table:
        fields["min_level"] = _level(table["min_level"], where)
    for key in ("min_sources", "max_age_days"):
        if key in table:
            fields[key] = _whole(table, key, where)
    if "min_source_precision" in table:
        value = table["min_source_precision"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise where.error("min_source_precision must be a number from 0.0 to 1.0", "min_source_precision")
        fields["min_source_precision"] = float(value)
    if "unknown_precision" in table:
        value = table["unknown_precision"]
        if value not in ("exclude", "include"):
            raise where.error('unknown_precision must be "exclude" or "include"', "unknown_precision")
        if "min_source_precision" not in table:
            raise where.error("unknown_precision needs min_source_precision", "unknown_precision")
        fields["unknown_precision"] = value
    if "allow_single_source" in table:
        if not isinstance(table["allow_single_source"], bool):
            raise where.error("allow_single_source must be true or false", "allow_single_source")
        fields["allow_single_source"] = table["allow_single_source"]
    try:
        return Rule(**fields)
    except ValueError as error:
        raise where.error(str(error), _key_of(str(error), table)) from None


def _key_of(reason: str, table: dict[str, Any]) -> str | None:
    """The key a Rule's complaint is about, to point at its line (the header if none)."""
    if reason.startswith("a BLOCK rule"):
        return "action"
    first = reason.split(" ", 1)[0]
    return first if first in table else None


def _string(table: dict[str, Any], key: str, where: _Where) -> str:
    value = table[key]
    if not isinstance(value, str):
        raise where.error(f"{key} must be a string", key)
    return value


def _whole(table: dict[str, Any], key: str, where: _Where) -> int:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(f"{key} must be a whole number", key)
    return value


def _action(value: Any, where: _Where) -> Action:
    try:
        if not isinstance(value, str):
            raise ValueError("not a string")
        return Action[value.strip().upper()]
    except (KeyError, ValueError):
        raise where.error(f"action {value!r} is not one of ALLOW, REVIEW, BLOCK", "action") from None


def _level(value: Any, where: _Where) -> RiskLevel:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise where.error("min_level must be low|medium|high|critical or 1-4", "min_level")
    try:
        return RiskLevel.parse(str(value))
    except ValueError as error:
        raise where.error(f"min_level: {error}", "min_level") from None


def _categories(value: Any, where: _Where) -> frozenset[Category]:
    if not isinstance(value, list) or not value or not all(isinstance(name, str) for name in value):
        raise where.error('categories must be a list of category names, e.g. ["money_mule"]', "categories")
    try:
        return frozenset(Category.from_feed_name(name) for name in value)
    except ValueError as error:
        raise where.error(f"categories: {error}", "categories") from None
