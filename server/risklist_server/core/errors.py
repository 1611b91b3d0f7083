"""Every exception the server raises on purpose, in one leaf module (the kernel's own are in risklist_kernel.errors)."""

from __future__ import annotations

from risklist_kernel.errors import RiskListError
from risklist_server.core.subject_cost import RAW_VALUE_SUBJECTS


class InvalidSubject(RiskListError):
    """A subject in a request is unusable; `field` names the request field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BatchTooLarge(RiskListError):
    """A batch holds more subjects than the configured maximum."""

    def __init__(
        self, size: int, maximum: int, *, items: str = "subjects", at_least: bool = False, reason: str = ""
    ) -> None:
        """`size` counted (`at_least`: the count stopped there, or was estimated from the bytes, `reason`)."""
        counted = f"more than {maximum}" if at_least else str(size)
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"batch of {counted} {items} exceeds the maximum of {maximum}{why}; split it into "
            f"batches of at most {maximum}"
        )
        self.size = size
        self.maximum = maximum
        self.items = items
        self.at_least = at_least


class SecretMismatch(RiskListError):
    """Digests made under one network secret were offered to a store built under another."""


class ConfigError(RiskListError):
    """A configuration file is unreadable or holds a bad value."""


class AccessFileError(ConfigError):
    """One of the files mutual TLS is served with (--tls-cert, --tls-key, --client-ca, --partners) cannot be used."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        """The file at fault."""


class StoreError(RiskListError):
    """The store cannot be opened or used (held by another process, wrong secret, corrupt)."""


class FrontFileRefused(StoreError):
    """The published Bloom front file cannot be used (missing, damaged, another store's or secret's)."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"the Bloom front file {path} is refused: {reason}; lookups go to RocksDB until the "
                         "writer publishes a good one (restart the writer if none comes)")
        self.reason = reason


class StoreHeld(StoreError):
    """The store is locked by another process (a running server, a load)."""


class InvalidRecord(RiskListError):
    """A stored value could not be decoded (unknown version or truncated)."""


class InvalidSubjects(RiskListError):
    """One or more subjects of a request are unusable: (field path, reason) per violation."""

    def __init__(self, violations: list[tuple[str, str]]) -> None:
        shown = "; ".join(f"{field}: {reason}" for field, reason in violations[:3])
        more = f" (and {len(violations) - 3} more)" if len(violations) > 3 else ""
        super().__init__(f"{len(violations)} invalid subject(s): {shown}{more}")
        self.violations = violations


class PolicyError(RiskListError):
    """A policy file cannot be used: which file, which line (0: the file as a whole), and why."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        where = f"{path}, line {line}" if line else path
        super().__init__(f"policy file {where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class SourceNotAllowed(RiskListError):
    """An ingest's source is neither a member of the network nor declared for the loading partner; nothing was
    applied."""


class OutcomeNotProven(RiskListError):
    """A ReportOutcome without a valid proof of a hit (its token missing, wrong, or its answer outside the
    window); the message says what to send. Nothing was recorded."""


class AuditError(RiskListError):
    """The audit directory cannot be created, written or read."""


class NotAuthenticated(RiskListError):
    """The caller presented no identity this network knows (no certificate, or not a member)."""


class NotPermitted(RiskListError):
    """The caller is a member but lacks the role a method needs."""

    def __init__(self, partner: str, role: str, method: str) -> None:
        super().__init__(f"partner {partner!r} lacks the {role!r} role that {method} needs; "
                         "ask the network operator to grant it in the partners file")
        self.partner = partner
        self.role = role


class QuotaExceeded(RiskListError):
    """A partner's requests or subjects per second are spent for now; retry after `retry_after` seconds."""

    def __init__(self, partner: str, dimension: str, per_second: float, retry_after: float) -> None:
        weights = (f"; a subject sent as a raw value counts {RAW_VALUE_SUBJECTS}, a digest 1, and raw values slow to "
                   "normalise the CPU they took"
                   if dimension == "subjects" else "")
        super().__init__(f"partner {partner!r} exceeded its quota of {per_second:g} {dimension} per second"
                         f"{weights}; retry after {retry_after:.3f} s")
        self.partner = partner
        self.dimension = dimension
        self.per_second = per_second
        self.retry_after = retry_after


class StreamLimitReached(RiskListError):
    """A streaming call was refused: the caller (`scope` "member") or the whole worker (`scope` "server") already
    holds `limit` open streams."""

    def __init__(self, partner: str, scope: str, limit: int) -> None:
        if scope == "member":
            detail = (f"partner {partner!r} already has {limit} open streams on this server worker, its most; "
                      "close one (or send your subjects on an open one) before opening another")
        else:
            detail = (f"this server worker already serves {limit} open streams, its most; retry shortly, "
                      "or use Check/BatchCheck")
        super().__init__(detail)
        self.partner = partner
        self.scope = scope
        self.limit = limit


class ServerDidNotStart(RiskListError):
    """A launched risklist-server exited, or did not log `serving` in time; the message quotes its output's end."""


class ServerDidNotStop(RiskListError):
    """A launched risklist-server was still running a grace period after the stop signal (it was then killed)."""


class BackupError(RiskListError):
    """A backup cannot be made, is incomplete or damaged, or cannot be restored where asked."""


class WriteUnavailable(RiskListError):
    """A cluster node could not have a write made durable and applied within the caller's deadline (no quorum of the
    log's servers, or this node stopped applying the log): answered UNAVAILABLE, to be retried (on this node or
    another). Whether it was stored is said in the message: a write the log never acknowledged was not."""
