"""Every exception the shared core and the SDK raise, in one leaf module (the server re-exports them)."""

from __future__ import annotations


class RiskListError(Exception):
    """Base class of every error risklist raises on purpose."""


class InvalidIdentifier(RiskListError):
    """A raw identifier could not be normalised: which type, and why."""

    def __init__(self, entity_type: str, reason: str) -> None:
        super().__init__(f"invalid {entity_type} identifier: {reason}")
        self.entity_type = entity_type
        self.reason = reason


class SecretError(RiskListError):
    """The network secret is missing, unreadable or malformed."""


class CheckFailed(RiskListError):
    """The server could not answer a check the local filter could not settle (SDK only).

    `code` is the gRPC status code's name (e.g. "UNAVAILABLE", "DEADLINE_EXCEEDED"); the payment
    flow decides what a failed check means for it (docs/client.md).
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"risk check failed ({code}): {detail}")
        self.code = code
        self.detail = detail
