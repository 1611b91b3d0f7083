"""The SDK's own exceptions: a check the local filter could not settle and the server did not answer, or may not."""

from __future__ import annotations

from risklist_kernel.errors import RiskListError


class CheckFailed(RiskListError):
    """The server could not answer a check the local filter could not settle (or refused an outcome report).

    `code` is the gRPC status code's name (e.g. "UNAVAILABLE", "DEADLINE_EXCEEDED"); the payment
    flow decides what a failed check means for it (docs/client.md). `call` names what failed.
    """

    def __init__(self, code: str, detail: str, *, call: str = "risk check") -> None:
        super().__init__(f"{call} failed ({code}): {detail}")
        self.code = code
        self.detail = detail


class SecretMismatch(CheckFailed):
    """The server (or a filter it sent) holds another network secret than this client: no answer can be trusted.

    Every check raises it (code "FAILED_PRECONDITION") until the server's fingerprint matches
    again; it is a CheckFailed, so a payment flow's handling of failed checks applies to it too.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("FAILED_PRECONDITION", detail)


class InvalidTarget(RiskListError, ValueError):
    """The addresses given to the client are unusable: which one, why, and what to write instead.

    Raised when the client is made, before any connection; a ValueError, like other bad arguments.
    """
