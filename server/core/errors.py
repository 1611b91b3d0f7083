"""Every exception the core raises, in one leaf module."""

from __future__ import annotations


class RiskListError(Exception):
    """Base class of every error risklist raises on purpose."""


class InvalidIdentifier(RiskListError):
    """A raw identifier could not be normalised: which type, and why."""

    def __init__(self, entity_type: str, reason: str) -> None:
        super().__init__(f"invalid {entity_type} identifier: {reason}")
        self.entity_type = entity_type
        self.reason = reason


class InvalidSubject(RiskListError):
    """A subject in a request is unusable; `field` names the request field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BatchTooLarge(RiskListError):
    """A batch holds more subjects than the configured maximum."""

    def __init__(self, size: int, maximum: int) -> None:
        super().__init__(
            f"batch of {size} subjects exceeds the maximum of {maximum}; split it into "
            f"batches of at most {maximum}"
        )
        self.size = size
        self.maximum = maximum


class SecretError(RiskListError):
    """The network secret is missing, unreadable or malformed."""


class SecretMismatch(RiskListError):
    """Digests made under one network secret were offered to a store built under another."""


class ConfigError(RiskListError):
    """A configuration file is unreadable or holds a bad value."""


class StoreError(RiskListError):
    """The store cannot be opened or used (held by another process, wrong secret, corrupt)."""


class InvalidRecord(RiskListError):
    """A stored value could not be decoded (unknown version or truncated)."""


class InvalidSubjects(RiskListError):
    """One or more subjects of a request are unusable: (field path, reason) per violation."""

    def __init__(self, violations: list[tuple[str, str]]) -> None:
        shown = "; ".join(f"{field}: {reason}" for field, reason in violations[:3])
        more = f" (and {len(violations) - 3} more)" if len(violations) > 3 else ""
        super().__init__(f"{len(violations)} invalid subject(s): {shown}{more}")
        self.violations = violations


class WriterUnavailable(RiskListError):
    """A write (report, revoke, outcome) could not reach the store's single writer."""

