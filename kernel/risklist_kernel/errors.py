"""Every exception the kernel raises, in one leaf module: the base class and the identifier and secret errors."""

from __future__ import annotations


class RiskListError(Exception):
    """Base class of every error risklist raises on purpose (kernel, SDK and server alike)."""


class InvalidIdentifier(RiskListError):
    """A raw identifier could not be normalised: where (when one of several), which type, and why.

    The message leads with the field path: "subjects[1]: invalid phone identifier: not a valid number".
    """

    def __init__(self, entity_type: str, reason: str, *, field: str = "") -> None:
        """`field`: where the identifier was in a request (e.g. "subjects[1]"); "" for a single identifier."""
        super().__init__(f"{field + ': ' if field else ''}invalid {entity_type} identifier: {reason}")
        self.entity_type = entity_type
        self.reason = reason
        self.field = field


class SecretError(RiskListError):
    """The network secret is missing, unreadable or malformed."""
