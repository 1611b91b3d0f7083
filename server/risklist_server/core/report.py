"""Report: a partner's reports checked field by field and turned into upserts of its own contributions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from risklist_server.core.contribution_rules import (
    Problem,
    category_from_number,
    clean_reference,
    expires_at_problem,
    level_from_number,
    reference_problem,
)
from risklist_server.core.errors import InvalidSubject, InvalidSubjects
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution, Record
from risklist_server.core.settings import Settings
from risklist_server.core.subject import Subject, SubjectResolver


@dataclass(frozen=True, slots=True)
class ReportInput:
    """One report as the request gives it: wire numbers, and expires_at (None: default retention)."""

    subject: Subject
    category: int
    level: int
    reference: str = ""
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedReport:
    """A checked report: its upsert, and whether its expiry is the category's default (none given)."""

    upsert: Upsert
    default_expiry: bool


def report_upserts(
    reports: Sequence[ReportInput], *, source: str, resolver: SubjectResolver, settings: Settings, now: int
) -> list[PlannedReport]:
    """The source's upserts for `reports`, reported at `now`; InvalidSubjects lists every bad field.

    A request is taken whole or not at all: one bad report rejects all of them.
    """
    if not reports:
        raise InvalidSubjects([("reports", "give at least one report")])
    if len(reports) > settings.max_batch:
        raise InvalidSubjects([("reports", f"{len(reports)} reports exceed the maximum of {settings.max_batch} "
                                           "per request; split them into several requests")])
    upserts: list[PlannedReport] = []
    violations: list[tuple[str, str]] = []
    for index, report in enumerate(reports):
        try:
            upserts.append(PlannedReport(_upsert(report, source, resolver, settings, now), report.expires_at is None))
        except InvalidSubjects as error:
            violations.extend((f"reports[{index}].{field}", reason) for field, reason in error.violations)
    if violations:
        raise InvalidSubjects(violations)
    return upserts


def revise_reports(planned: Sequence[PlannedReport], records: Mapping[bytes, Record]) -> list[Upsert]:
    """The upserts to apply given the records before: reporting again what the source's contribution
    already says (same level and reference; same expires_at, or none given) keeps it as it is, with
    its first reported_at and expiry, so a retried Report changes nothing.
    """
    revised: list[Upsert] = []
    for plan in planned:
        new = plan.upsert.contribution
        current = next((c for c in records.get(plan.upsert.key, ()) if c.identity == new.identity), None)
        if (
            current is not None
            and (current.level, current.reference) == (new.level, new.reference)
            and (plan.default_expiry or current.expires_at == new.expires_at)
            and current.is_live(new.reported_at)
        ):
            revised.append(Upsert(plan.upsert.key, current))
        else:
            revised.append(plan.upsert)
    return revised


def _upsert(report: ReportInput, source: str, resolver: SubjectResolver, settings: Settings, now: int) -> Upsert:
    violations: list[tuple[str, str]] = []
    key = b""
    try:
        key = resolver.storage_key(report.subject)
    except InvalidSubject as error:
        violations.append((f"subject.{error.field}", error.reason))
    category = category_from_number(report.category)
    level = level_from_number(report.level)
    reference = clean_reference(report.reference)
    problems = [category, level, reference_problem(reference)]
    if report.expires_at is not None:
        problems.append(expires_at_problem(now, report.expires_at, reported_now=True))
    violations.extend(problem for problem in problems if isinstance(problem, Problem))
    if violations or isinstance(category, Problem) or isinstance(level, Problem):
        raise InvalidSubjects(violations)
    expires_at = now + settings.retention_seconds(category) if report.expires_at is None else report.expires_at
    return Upsert(key, Contribution(source, category, level, now, expires_at, reference))
