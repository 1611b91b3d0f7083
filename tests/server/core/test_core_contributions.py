"""Report validation and retention, what a revoke removes, and GetEntry's view (server/core/report, revoke, entry)."""

from __future__ import annotations

import secrets

import pytest

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.entry import entry_view
from risklist_server.core.errors import InvalidSubjects
from risklist_server.core.mutation import MutationCounts, apply_counted
from risklist_server.core.record import Contribution
from risklist_server.core.report import ReportInput, report_upserts, revise_reports
from risklist_server.core.revoke import revoke_removals
from risklist_server.core.settings import DAY_SECONDS, Settings
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.core.verdict import NOT_LISTED, aggregate

NOW = 1_800_000_000
PHONE = Subject(int(EntityType.PHONE), "+8613800138000")
RESOLVER = SubjectResolver(Normaliser("CN"), Digester(NetworkSecret(secrets.token_bytes(32))))
KEY = RESOLVER.storage_key(PHONE)


def _report(**fields: object) -> ReportInput:
    values: dict[str, object] = {"subject": PHONE, "category": int(Category.MONEY_MULE),
                                 "level": int(RiskLevel.HIGH), **fields}
    return ReportInput(**values)  # type: ignore[arg-type]


def _plan(*reports: ReportInput, settings: Settings | None = None) -> list[Contribution]:
    planned = report_upserts(reports, source="bank-a", resolver=RESOLVER, settings=settings or Settings(), now=NOW)
    return [plan.upsert.contribution for plan in planned]


def test_report_without_expiry_takes_the_categorys_retention() -> None:
    """No expires_at: the contribution lasts the configured retention of its category, from now."""
    settings = Settings(retention_days={**Settings().retention_days, Category.MONEY_MULE: 30})
    [contribution] = _plan(_report(reference="C-1"), settings=settings)
    assert contribution == Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, NOW, NOW + 30 * DAY_SECONDS,
                                        "C-1")


def test_report_with_expiry_keeps_it() -> None:
    """A future expires_at is kept as given."""
    [contribution] = _plan(_report(expires_at=NOW + 60))
    assert contribution.expires_at == NOW + 60


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"category": 0}, "reports[0].category", "unspecified"),
        ({"level": 9}, "reports[0].level", "unknown"),
        ({"reference": "r" * 65}, "reports[0].reference", "at most 64"),
        ({"expires_at": NOW}, "reports[0].expires_at", "future"),
        ({"expires_at": NOW * 1000}, "reports[0].expires_at", "unix seconds"),
        ({"subject": Subject(int(EntityType.PHONE), "12")}, "reports[0].subject.value", "phone"),
        ({"subject": Subject(0, "x")}, "reports[0].subject.type", "unspecified"),
    ],
)
def test_each_bad_field_is_named(fields: dict[str, object], field: str, says: str) -> None:
    """A bad field is reported by its path with a reason saying what is wrong."""
    with pytest.raises(InvalidSubjects) as caught:
        _plan(_report(**fields))
    assert [name for name, _ in caught.value.violations] == [field]
    assert says in caught.value.violations[0][1]


def test_batch_limits() -> None:
    """An empty request and one over max_batch are refused as a whole."""
    with pytest.raises(InvalidSubjects, match="at least one"):
        _plan()
    with pytest.raises(InvalidSubjects, match="maximum of 2"):
        _plan(_report(), _report(), _report(), settings=Settings(max_batch=2))
    with pytest.raises(InvalidSubjects, match="maximum of 1"):
        revoke_removals([PHONE, PHONE], 0, source="bank-a", resolver=RESOLVER, max_batch=1)


def test_reporting_again_changes_nothing() -> None:
    """A retried report (same level and reference, no expiry given) keeps the first reported_at and expiry."""
    first = Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, NOW - 100, NOW + 500, "C-1")
    planned = report_upserts([_report(reference="C-1")], source="bank-a", resolver=RESOLVER, settings=Settings(),
                             now=NOW)
    assert [u.contribution for u in revise_reports(planned, {KEY: (first,)})] == [first]
    raised = report_upserts([_report(reference="C-1", level=int(RiskLevel.CRITICAL))], source="bank-a",
                            resolver=RESOLVER, settings=Settings(), now=NOW)
    assert revise_reports(raised, {KEY: (first,)})[0].contribution.level == RiskLevel.CRITICAL


OTHER = Contribution("bank-b", Category.MONEY_MULE, RiskLevel.HIGH, NOW - 10, NOW + 100, "B-REF")
OWN = Contribution("bank-a", Category.TELECOM_FRAUD, RiskLevel.LOW, NOW - 5, NOW + 100, "A-REF")


@pytest.mark.parametrize(
    ("record", "category", "after", "removed"),
    [
        ((OTHER,), None, (OTHER,), 0),                      # only another partner lists it
        ((OTHER,), Category.MONEY_MULE, (OTHER,), 0),
        ((OTHER,), Category.GAMBLING, (OTHER,), 0),          # nobody lists that category
        ((), None, (), 0),                                   # nobody lists it
        ((OTHER, OWN), None, (OTHER,), 1),                   # the caller's own is there to revoke
        ((OTHER, OWN), Category.MONEY_MULE, (OTHER, OWN), 0),  # that category is the other partner's only
    ],
)
def test_revoking_counts_only_the_callers_contributions(
    record: tuple[Contribution, ...], category: Category | None, after: tuple[Contribution, ...], removed: int
) -> None:
    """A revoke removes only the caller's contributions; with none to remove it is not_listed, whoever else lists it."""
    [removal] = revoke_removals([PHONE], int(category or 0), source="bank-a", resolver=RESOLVER, max_batch=10)
    counts = MutationCounts()
    assert apply_counted(tuple(sorted(record)), removal, counts) == tuple(sorted(after))
    assert (counts.removed, counts.not_listed) == (removed, int(not removed))


@pytest.mark.parametrize("disclose", [False, True])
def test_entry_view_withholds_other_sources_unless_disclosed(disclose: bool) -> None:
    """Own contributions show source and reference; others never their reference, their source only if disclosed."""
    expired = Contribution("bank-c", Category.GAMBLING, RiskLevel.HIGH, 0, NOW - 1, "C-REF")
    record = (OTHER, OWN, expired)
    entry = entry_view(record, aggregate(record, NOW), caller="bank-a", disclose_sources=disclose, now=NOW)
    assert entry.verdict.source_count == 2 and entry.sources_disclosed is disclose
    shown = [(c.source, c.own, c.reference, c.category) for c in entry.contributions]
    assert shown == [("bank-a", True, "A-REF", Category.TELECOM_FRAUD),
                     ("bank-b" if disclose else "", False, "", Category.MONEY_MULE)]
    assert not entry_view(None, NOT_LISTED, caller="bank-a", disclose_sources=disclose, now=NOW).verdict.listed
