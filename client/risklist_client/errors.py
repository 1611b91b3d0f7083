"""The SDK's own exception: a check the local filter could not settle and the server did not answer."""

from __future__ import annotations

from risklist_kernel.errors import RiskListError


class CheckFailed(RiskListError):
    """The server could not answer a check the local filter could not settle.

    `code` is the gRPC status code's name (e.g. "UNAVAILABLE", "DEADLINE_EXCEEDED"); the payment
    flow decides what a failed check means for it (docs/client.md).
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"risk check failed ({code}): {detail}")
        self.code = code
        self.detail = detail
