"""The network's members from the --partners TOML file: partner ids, their roles and quotas."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risklist_server.core.errors import ConfigError
from risklist_server.core.source import SOURCE_ID_RULE, is_valid_source_id
from risklist_server.core.toml_file import read_toml

RESERVED_IDS = frozenset({"ca", "server"})
"""Not partner ids: `risklist-admin certs` writes ca.pem and server.pem beside the partners' files."""


class Role(enum.StrEnum):
    """What a partner may do (granted per partner in the --partners file)."""

    QUERY = "query"            # Check, BatchCheck, StreamCheck, GetEntry, GetFilter*, ReportOutcome
    CONTRIBUTE = "contribute"  # Report, Revoke
    ADMIN = "admin"            # the Admin service


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket's shape: `per_second` refilled, at most `burst` saved up."""

    per_second: float
    burst: float


@dataclass(frozen=True, slots=True)
class Quota:
    """A partner's limits; None: unlimited in that dimension."""

    requests: Rate | None = None
    subjects: Rate | None = None


UNLIMITED = Quota()


@dataclass(frozen=True, slots=True)
class Partner:
    """One member: the id its client certificate carries, its roles and its quota."""

    id: str
    roles: frozenset[Role]
    quota: Quota = UNLIMITED


_QUOTA_KEYS = ("requests_per_second", "requests_burst", "subjects_per_second", "subjects_burst")
_PARTNER_KEYS = frozenset({"roles", *_QUOTA_KEYS})
_TOP_KEYS = frozenset({"defaults", "partners"})


def partner_id_problem(text: str) -> str | None:
    """Why `text` cannot be a partner id, or None if it can."""
    if not is_valid_source_id(text):
        return f"a partner id is {SOURCE_ID_RULE}"
    if text in RESERVED_IDS:
        return f"{text!r} is reserved (the CA's and the server's files use it)"
    return None


def load_partners(path: str | Path) -> dict[str, Partner]:
    """The partners file as {id: Partner}; raise ConfigError naming the file, the partner and the key."""
    file = Path(path)
    return partners_from(read_toml(file, "partners file"), origin=str(file))


def partners_from(document: dict[str, Any], *, origin: str) -> dict[str, Partner]:
    """The partners a parsed TOML document declares (see load_partners)."""
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{origin}: unknown top-level key(s) {', '.join(unknown)}; "
                          "expected [defaults] and [partners.ID] tables")
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{origin}: defaults must be a table of quota keys")
    bad = sorted(set(defaults) - set(_QUOTA_KEYS))
    if bad:
        raise ConfigError(f"{origin}: defaults: unknown key(s) {', '.join(bad)}; known: {', '.join(_QUOTA_KEYS)}")
    table = document.get("partners")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{origin}: no partners; declare each as a [partners.ID] table with roles = [...]")
    partners: dict[str, Partner] = {}
    for partner_id, entry in table.items():
        where = f"{origin}: partner {partner_id!r}"
        problem = partner_id_problem(partner_id)
        if problem is not None:
            raise ConfigError(f"{where}: bad id: {problem}")
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table ([partners.{partner_id}])")
        partners[partner_id] = _partner(partner_id, {**defaults, **entry}, where)
    return partners


def _partner(partner_id: str, entry: dict[str, Any], where: str) -> Partner:
    unknown = sorted(set(entry) - _PARTNER_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_PARTNER_KEYS))}")
    roles = entry.get("roles")
    known_roles = ", ".join(role.value for role in Role)
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise ConfigError(f"{where}: key roles: must be a list of role names ({known_roles}), e.g. roles = [\"query\"]")
    granted: set[Role] = set()
    for name in roles:
        try:
            granted.add(Role(name))
        except ValueError:
            raise ConfigError(f"{where}: key roles: unknown role {name!r}; roles are {known_roles}") from None
    quota = Quota(requests=_rate(entry, "requests", where), subjects=_rate(entry, "subjects", where))
    return Partner(partner_id, frozenset(granted), quota)


def _rate(entry: dict[str, Any], dimension: str, where: str) -> Rate | None:
    rate_key, burst_key = f"{dimension}_per_second", f"{dimension}_burst"
    per_second = entry.get(rate_key)
    burst = entry.get(burst_key)
    if per_second is None:
        if burst is not None:
            raise ConfigError(f"{where}: key {burst_key}: set {rate_key} too (a burst needs a rate)")
        return None
    per_second = _positive(per_second, rate_key, where)
    burst = max(per_second, 1.0) if burst is None else _positive(burst, burst_key, where)
    if burst < 1:
        raise ConfigError(f"{where}: key {burst_key}: must be at least 1 (one call must fit)")
    return Rate(per_second, burst)


def _positive(value: object, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: key {key}: must be a positive number, got {value!r}")
    return float(value)
