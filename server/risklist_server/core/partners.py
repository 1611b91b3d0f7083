"""The network's members from the --partners TOML file: partner ids, their roles, quotas and ingest sources."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risklist_server.core.errors import ConfigError, SourceNotAllowed
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
    """One member: the id its client certificate carries, its roles, its quota and its ingest sources."""

    id: str
    roles: frozenset[Role]
    quota: Quota = UNLIMITED
    ingest_sources: frozenset[str] = frozenset()
    """Source ids that are no member's but that this admin partner may load feeds under (Admin.Ingest)."""


_QUOTA_KEYS = ("requests_per_second", "requests_burst", "subjects_per_second", "subjects_burst")
_PARTNER_KEYS = frozenset({"roles", "ingest_sources", *_QUOTA_KEYS})
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
    for partner in partners.values():
        members = sorted(partner.ingest_sources & set(partners))
        if members:
            raise ConfigError(f"{origin}: partner {partner.id!r}: key ingest_sources: {', '.join(members)}: "
                              "a member of the network, and a member's id needs no declaring; remove it")
    return partners


def require_ingest_source(partners: Mapping[str, Partner], caller: str, source: str) -> None:
    """Raise SourceNotAllowed unless partner `caller` may load a feed under `source`: the id of a member,
    or one of the caller's own ingest_sources. A load counts as that source's contributions, so an id
    nobody declared (a typo) would count as one more bank."""
    if source in partners:
        return
    declared = partners.get(caller)
    if declared is not None and source in declared.ingest_sources:
        return
    raise SourceNotAllowed(
        f"source {source!r} is neither a member of this network nor an ingest source declared for partner "
        f"{caller!r} in the partners file: its rows would count as one more bank's. Load under the id of the "
        f"member whose feed it is, or declare it: ingest_sources = [\"{source}\"] in [partners.{caller}]")


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
    return Partner(partner_id, frozenset(granted), quota, _ingest_sources(entry, granted, where))


def _ingest_sources(entry: dict[str, Any], roles: set[Role], where: str) -> frozenset[str]:
    sources = entry.get("ingest_sources", [])
    if not isinstance(sources, list) or not all(isinstance(source, str) for source in sources):
        raise ConfigError(f"{where}: key ingest_sources: must be a list of source ids, e.g. "
                          "ingest_sources = [\"legacy-feed\"]")
    for source in sources:
        if not is_valid_source_id(source):
            raise ConfigError(f"{where}: key ingest_sources: {source!r} is not a source id: {SOURCE_ID_RULE}")
    repeated = sorted({source for source in sources if sources.count(source) > 1})
    if repeated:
        raise ConfigError(f"{where}: key ingest_sources: {', '.join(repeated)} listed twice")
    if sources and Role.ADMIN not in roles:
        raise ConfigError(f"{where}: key ingest_sources: only a partner with the admin role loads feeds "
                          "(Admin.Ingest); add \"admin\" to its roles or move the key to the partner that loads")
    return frozenset(sources)


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
