"""Watchlist alerts: LISTED, CHANGED, CLEARED, what each carries, and when a new answer is one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from risklist_client.result import CheckResult
from risklist_kernel.enums import Action, Category, EntityType, RiskLevel


class AlertKind(StrEnum):
    LISTED = "LISTED"
    """A watched subject is newly on the list."""
    CHANGED = "CHANGED"
    """Still listed, with another level, categories, source count or policy action."""
    CLEARED = "CLEARED"
    """No longer listed (revoked by every contributor, or expired)."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What an alert compares: the verdict's level, categories, distinct sources and the policy's action
    (the reason code is carried, not compared: it follows the action)."""

    level: int
    categories: tuple[int, ...]
    source_count: int
    action: int
    reason_code: str

    @classmethod
    def of(cls, result: CheckResult) -> Summary:
        return cls(int(result.level or 0), tuple(int(c) for c in result.categories), result.source_count,
                   int(result.action), result.reason_code)

    def compared(self) -> tuple[int, tuple[int, ...], int, int]:
        return self.level, self.categories, self.source_count, self.action

    def to_json(self) -> str:
        return json.dumps([self.level, list(self.categories), self.source_count, self.action, self.reason_code])

    @classmethod
    def from_json(cls, text: str) -> Summary:
        level, categories, source_count, action, reason_code = json.loads(text)
        return cls(int(level), tuple(int(c) for c in categories), int(source_count), int(action), str(reason_code))


def classify(previous: Summary | None, current: CheckResult) -> AlertKind | None:
    """The alert a confirmed answer raises against the last verdict alerted (None: not listed before), or None."""
    if previous is None:
        return AlertKind.LISTED if current.listed else None
    if not current.listed:
        return AlertKind.CLEARED
    return AlertKind.CHANGED if Summary.of(current).compared() != previous.compared() else None


@dataclass(frozen=True, slots=True)
class Alert:
    """One change of a watched subject, confirmed by the server.

    `alert_id` increases by one per alert of a watchlist state and is never reused: a consumer that
    must not act twice keeps the last one it handled. `label` is what the bank gave when watching
    the subject (its own customer reference); `subject_key` the storage key (type byte + digest).
    `result` is the confirming server answer: its verdict, `request_id` and, when listed,
    `outcome_token` (RiskListClient.report_outcome takes it). `previous` is the verdict alerted
    before (None for LISTED).
    """

    alert_id: int
    kind: AlertKind
    entity_type: EntityType
    label: str
    subject_key: bytes
    result: CheckResult
    previous: Summary | None
    raised_at: float
    """Unix time the change was recorded."""

    @property
    def list_version(self) -> int:
        return self.result.list_version

    @property
    def request_id(self) -> str:
        return self.result.request_id

    def to_dict(self) -> dict[str, Any]:
        """The JSON form risklist-watch writes (docs/client.md, "Watchlists and alerts")."""
        result = self.result
        document: dict[str, Any] = {
            "alert_id": self.alert_id,
            "kind": self.kind.value,
            "entity_type": self.entity_type.feed_name,
            "label": self.label,
            "subject_key": self.subject_key.hex(),
            "listed": result.listed,
            "action": result.action.feed_name,
            "reason_code": result.reason_code or "NOT_LISTED",
            "list_version": result.list_version,
            "request_id": result.request_id,
            "raised_at": round(self.raised_at, 3),
        }
        if result.listed:
            document.update(
                level=result.level.feed_name if result.level is not None else None,
                categories=[category.feed_name for category in result.categories],
                source_count=result.source_count, report_count=result.report_count,
                first_reported=result.first_reported, last_reported=result.last_reported,
                expires_at=result.expires_at, outcome_token=result.outcome_token.hex(),
                policy_version=result.policy_version,
            )
        if self.previous is not None:
            previous = self.previous
            document["previous"] = {
                "level": RiskLevel(previous.level).feed_name if previous.level in (1, 2, 3, 4) else None,
                "categories": [Category(c).feed_name for c in previous.categories if c in _CATEGORIES],
                "source_count": previous.source_count,
                "action": Action(previous.action).feed_name if previous.action in (1, 2, 3) else None,
            }
        return document

    def to_record(self) -> str:
        """Everything but the id, as the state's outbox keeps it until the alert is delivered."""
        result = self.result
        return json.dumps({
            "kind": self.kind.value, "type": int(self.entity_type), "label": self.label,
            "previous": self.previous.to_json() if self.previous is not None else None, "at": self.raised_at,
            "result": {**{name: getattr(result, name) for name in _PLAIN_FIELDS},
                       "action": int(result.action), "level": int(result.level or 0),
                       "categories": [int(c) for c in result.categories],
                       "outcome_token": result.outcome_token.hex(), "subject_key": result.subject_key.hex(),
                       "policy_version": result.policy_version},
        })

    @classmethod
    def from_record(cls, alert_id: int, subject_key: bytes, record: str) -> Alert:
        """The alert `to_record` wrote, with its id and key."""
        data = json.loads(record)
        fields = data["result"]
        result = CheckResult(
            **{name: fields[name] for name in _PLAIN_FIELDS}, action=Action(fields["action"]),
            level=RiskLevel(fields["level"]) if fields["level"] else None,
            categories=tuple(Category(c) for c in fields["categories"]),
            outcome_token=bytes.fromhex(fields["outcome_token"]), subject_key=bytes.fromhex(fields["subject_key"]),
            policy_version=fields.get("policy_version", ""))  # none in an outbox written before verdicts named it
        previous = Summary.from_json(data["previous"]) if data["previous"] is not None else None
        return cls(alert_id, AlertKind(data["kind"]), EntityType(data["type"]), data["label"], subject_key, result,
                   previous, float(data["at"]))


_CATEGORIES = {int(category) for category in Category}
_PLAIN_FIELDS = ("listed", "answered_by", "list_version", "source_count", "report_count", "first_reported",
                 "last_reported", "expires_at", "reason_code", "request_id")
