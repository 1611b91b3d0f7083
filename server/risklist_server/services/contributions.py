"""Report and Revoke as plain functions of the single writer: validate, apply durably, count."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from risklist_server.core.errors import InvalidSubjects
from risklist_server.core.mutation import Mutation
from risklist_server.core.record import Record
from risklist_server.core.report import ReportInput, report_upserts, revise_reports
from risklist_server.core.revoke import revoke_removals
from risklist_server.core.settings import Settings
from risklist_server.core.source import SOURCE_ID_RULE, is_valid_source_id
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.store.risk_store import RiskStore


@dataclass(frozen=True, slots=True)
class ReportResult:
    added: int
    unchanged: int
    version: int


@dataclass(frozen=True, slots=True)
class RevokeResult:
    removed: int
    not_listed: int
    version: int


class ContributionService:
    """A partner's own contributions: every write synced to the WAL before it returns.

    `source` is always the authenticated caller's partner id, never a request field.
    """

    def __init__(
        self,
        store: RiskStore,
        resolver: SubjectResolver,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._settings = settings
        self._clock = clock

    @property
    def version(self) -> int:
        return self._store.version

    def report(self, source: str, reports: Sequence[ReportInput]) -> ReportResult:
        """Make each report the source's contribution of its category to its subject."""
        _require_source_id(source)
        planned = report_upserts(reports, source=source, resolver=self._resolver, settings=self._settings,
                                 now=int(self._clock()))

        def unless_already_so(records: Mapping[bytes, Record]) -> list[Mutation]:
            return list(revise_reports(planned, records))

        applied = self._store.apply([plan.upsert for plan in planned], sync=True, revise=unless_already_so)
        return ReportResult(applied.added, applied.unchanged, applied.version or self._store.version)

    def revoke(self, source: str, subjects: Sequence[Subject], category: int) -> RevokeResult:
        """Remove the source's contributions to `subjects` (of `category`; 0: all). A subject it has none to
        counts as not listed, whoever else lists it (core.revoke): a retry answers removed 0 and leaves
        the list version where it was.
        """
        _require_source_id(source)
        removals = revoke_removals(subjects, category, source=source, resolver=self._resolver,
                                   max_batch=self._settings.max_batch)
        applied = self._store.apply(removals, sync=True)
        return RevokeResult(applied.removed, applied.not_listed, applied.version or self._store.version)

def _require_source_id(source: str) -> None:
    if not is_valid_source_id(source):
        raise InvalidSubjects([("caller", f"partner id {source!r} cannot contribute: a source id must be "
                                          f"{SOURCE_ID_RULE}; fix the partner's id in the partners file")])
