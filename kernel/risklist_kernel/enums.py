"""Entity types, risk levels and categories; numeric values equal the proto enums'."""

from __future__ import annotations

from enum import IntEnum
from typing import Self


class _Named(IntEnum):
    """An IntEnum parsed from its lower-case feed name (case-insensitive)."""

    @property
    def feed_name(self) -> str:
        """The lower-case name feeds and CLIs use, e.g. ``id_number``."""
        return self.name.lower()

    @classmethod
    def from_feed_name(cls, text: str) -> Self:
        """Parse a feed name such as ``Phone``; raise ValueError listing the accepted names."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            accepted = "|".join(member.feed_name for member in cls)
            raise ValueError(f"unknown value {text.strip()!r}; expected one of {accepted}") from None


class EntityType(_Named):
    ACCOUNT = 1
    CARD = 2
    PHONE = 3
    DEVICE = 4
    ID_NUMBER = 5
    IP = 6
    EMAIL = 7


class RiskLevel(_Named):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> RiskLevel:
        """Parse ``high`` or ``3``; raise ValueError naming what is accepted."""
        stripped = text.strip()
        if stripped.isdigit():
            number = int(stripped)
            if 1 <= number <= 4:
                return cls(number)
            raise ValueError(f"level {number} is out of range; expected 1-4 or low|medium|high|critical")
        try:
            return cls[stripped.upper()]
        except KeyError:
            raise ValueError(
                f"unknown level {stripped!r}; expected low|medium|high|critical or 1-4"
            ) from None


class Category(_Named):
    TELECOM_FRAUD = 1
    MONEY_MULE = 2
    ACCOUNT_TAKEOVER = 3
    IDENTITY_FRAUD = 4
    GAMBLING = 5
    MONEY_LAUNDERING = 6
    SCAM_MERCHANT = 7
    OTHER = 8


class Action(_Named):
    """What the network's policy says to do about a subject (docs/policy.md)."""

    ALLOW = 1
    REVIEW = 2
    BLOCK = 3



class Outcome(_Named):
    """What a hit turned out to be, as a member reports it (ReportOutcome, docs/api.md)."""

    CONFIRMED_FRAUD = 1
    FALSE_POSITIVE = 2
    CUSTOMER_EXPLAINED = 3
    UNKNOWN = 4
