"""Write-type calls (Report, Revoke, and any later one): a registry run by the writer, reached from any worker."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf.message import Message

from risklist_server.rpc.access.caller import Caller

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)


@dataclass(frozen=True, slots=True)
class WriteCall(Generic[RequestT, ResponseT]):
    """One write-type method: its message types and the writer-side handler.

    The handler gets the authenticated caller, the request id the receiving worker gave the
    call, and the request; it returns the response or raises an error status.py maps.
    """

    request_type: type[RequestT]
    response_type: type[ResponseT]
    handler: Callable[[Caller, str, RequestT], ResponseT]


WriteCalls = Mapping[str, WriteCall[Any, Any]]
"""By method name (the public RiskList method's, e.g. "Report")."""


class WriteGateway(Protocol):
    """How a worker gets a write call run by the store's single writer."""

    def submit(
        self, method: str, caller: Caller, request_id: str, request: Message, response_type: type[ResponseT],
        *, timeout: float | None = None,
    ) -> ResponseT: ...


class LocalWrites:
    """The gateway of the writer itself (one worker): run the handler in this process."""

    def __init__(self, calls: WriteCalls) -> None:
        self._calls = calls

    def submit(
        self, method: str, caller: Caller, request_id: str, request: Message, response_type: type[ResponseT],
        *, timeout: float | None = None,
    ) -> ResponseT:
        response = self._calls[method].handler(caller, request_id, request)
        if not isinstance(response, response_type):
            raise TypeError(f"{method} answered {type(response).__name__}, not {response_type.__name__}")
        return response
