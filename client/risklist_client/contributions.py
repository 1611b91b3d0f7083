"""What a bank contributes and reads back: Report inputs, and the answers of Report, Revoke and GetEntry."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb

from risklist_client.result import CheckResult, from_verdict
from risklist_kernel.enums import Category, EntityType, RiskLevel


@dataclass(frozen=True, slots=True)
class Report:
    """One contribution to send: `entity_type` and raw `value` (digested before it is sent), `category`,
    `level` (a member or its name; a level also "1"-"4"), your case `reference` (≤ 64 characters) and
    `expires_at` in unix seconds (0: the category's default retention)."""

    entity_type: EntityType | str
    value: str
    category: Category | str
    level: RiskLevel | str
    reference: str = ""
    expires_at: int = 0

    def category_member(self) -> Category:
        return self.category if isinstance(self.category, Category) else Category.from_feed_name(self.category)

    def level_member(self) -> RiskLevel:
        return self.level if isinstance(self.level, RiskLevel) else RiskLevel.parse(self.level)


@dataclass(frozen=True, slots=True)
class ReportResult:
    """Report's answer: contributions new or changed (`added`), already exactly so (`unchanged`); the list
    version after the last request, and each request's id (one per `batch_size` reports)."""

    added: int
    unchanged: int
    list_version: int
    request_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RevokeResult:
    """Revoke's answer: your contributions removed, subjects you had no contribution for; as ReportResult,
    the list version after the last request and each request's id."""

    removed: int
    not_listed: int
    list_version: int
    request_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Contribution:
    """One live contribution behind a verdict. `source` is empty unless the network discloses sources or it is
    your own (`own`); `reference` only on your own. Times are unix seconds."""

    source: str
    own: bool
    category: Category | None
    level: RiskLevel | None
    reported_at: int
    expires_at: int
    reference: str


@dataclass(frozen=True, slots=True)
class Entry:
    """GetEntry's answer: the verdict (as a server CheckResult) and the contributions behind it."""

    result: CheckResult
    contributions: tuple[Contribution, ...]
    sources_disclosed: bool
    list_version: int
    request_id: str


def report_message(report: Report, kind: EntityType, digest: bytes) -> pb.Report:
    """The wire form of `report`, its subject already digested (`kind`, `digest`)."""
    message = pb.Report(subject=pb.Subject(type=int(kind), digest=digest), category=int(report.category_member()),
                        level=int(report.level_member()), reference=report.reference)
    if report.expires_at:
        message.expires_at.CopyFrom(Timestamp(seconds=report.expires_at))
    return message


def entry_from_response(response: pb.GetEntryResponse, subject_key: bytes) -> Entry:
    """GetEntry's response as an Entry; enum values a newer server may send and this SDK does not know are None."""
    categories = {int(category) for category in Category}
    contributions = tuple(
        Contribution(
            source=item.source, own=item.own,
            category=Category(item.category) if item.category in categories else None,
            level=RiskLevel(item.level) if item.level in (1, 2, 3, 4) else None,
            reported_at=item.reported_at.seconds, expires_at=item.expires_at.seconds, reference=item.reference,
        )
        for item in response.contributions
    )
    result = from_verdict(response.verdict, response.list_version, response.request_id, b"",
                          subject_key if response.verdict.listed else b"")
    return Entry(result, contributions, response.sources_disclosed, response.list_version, response.request_id)
