"""Every exception the kernel raises, in one leaf module: the base class and the identifier and secret errors."""

from __future__ import annotations


class RiskListError(Exception):
    """Base class of every error risklist raises on purpose (kernel, SDK and server alike)."""


class InvalidIdentifier(RiskListError):
    """A raw identifier could not be normalised: which type, and why."""

    def __init__(self, entity_type: str, reason: str) -> None:
        super().__init__(f"invalid {entity_type} identifier: {reason}")
        self.entity_type = entity_type
        self.reason = reason


class SecretError(RiskListError):
    """The network secret is missing, unreadable or malformed."""
