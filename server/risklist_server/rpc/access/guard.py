"""Every method handler wrapped at registration: the role each method needs, checked by the gate first.

Python server interceptors cannot see the auth context, so `GuardedRegistry` stands in for
the grpc.Server while servicers register, and wraps each handler they add.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import structlog

from risklist_kernel.errors import RiskListError
from risklist_server.audit.trail import DISCARD, AuditSink
from risklist_server.core.errors import NotAuthenticated, QuotaExceeded
from risklist_server.core.partners import Role
from risklist_server.rpc.access.gate import Gate
from risklist_server.rpc.metrics import NOT_A_MEMBER, count_member, count_rpc, refusal_reason
from risklist_server.rpc.request_id import new_request_id
from risklist_server.rpc.rpc_log import ADMIN_SERVICE, RISKLIST_SERVICE
from risklist_server.rpc.status import abort, status_name
from risklist_server.rpc.stream_limits import StreamLimits

log = structlog.get_logger("risklist.access")

METHOD_ROLES: dict[str, Role] = {
    **{f"/{RISKLIST_SERVICE}/{name}": Role.QUERY
       for name in ("Check", "BatchCheck", "StreamCheck", "GetEntry", "GetFilter", "GetFilterUpdates",
                    "ReportOutcome")},
    f"/{RISKLIST_SERVICE}/GetNetworkInfo": Role.QUERY,
    **{f"/{RISKLIST_SERVICE}/{name}": Role.CONTRIBUTE for name in ("Report", "Revoke")},
}
"""The role each RiskList method needs (docs/api.md lists it for partners)."""

SERVICE_ROLES: dict[str, Role] = {ADMIN_SERVICE: Role.ADMIN}
"""Every method of these services needs the role."""


class UnguardedMethod(Exception):
    """A method was registered that no table gives a role: refuse to start rather than serve it open."""


def role_for(method: str) -> Role:
    """The role `method` ('/package.Service/Method') needs."""
    role = METHOD_ROLES.get(method)
    if role is None:
        role = SERVICE_ROLES.get(method.rsplit("/", 1)[0].lstrip("/"))
    if role is None:
        raise UnguardedMethod(f"{method} has no role in risklist_server.rpc.access.guard.METHOD_ROLES; add one")
    return role


def guard(
    method: str, handler: grpc.RpcMethodHandler[Any, Any], gate: Gate, audit: AuditSink = DISCARD,
    streams: StreamLimits | None = None,
) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` preceded by the gate: authenticated caller, role `method` needs, a request of quota;
    and, for a response-streaming method given `streams`, a free stream slot of the caller's and the worker's.

    A refused call is audited too (no subjects: none was looked at), under the partner the
    refusal names, or "" for a caller that is no member.
    """
    role = role_for(method)
    service, _, name = method.lstrip("/").partition("/")
    kind, behaviour = _behaviour(handler)

    def refuse(error: RiskListError, context: grpc.ServicerContext, started: float) -> None:
        status = status_name(error)
        partner = str(getattr(error, "partner", ""))
        request_id = new_request_id()
        count_rpc(service, name, status, 0, time.perf_counter() - started)
        # A stranger's refusals share one label: no certificate can add a series.
        member = NOT_A_MEMBER if isinstance(error, NotAuthenticated) or not partner else partner
        count_member(member, name, 0, refusal_reason(error))
        if not isinstance(error, QuotaExceeded):  # the gate logs those, throttled
            log.info("rpc_refused", method=name, partner=member, request_id=request_id, status=status,
                     reason=str(error))
        audit.append(time.time_ns(), partner, name, request_id, status, b"", ())
        abort(context, error)

    def guarded(request: Any, context: grpc.ServicerContext) -> Any:
        started = time.perf_counter()
        try:
            gate.admit(context, role, name)
        except RiskListError as error:
            refuse(error, context, started)
        return behaviour(request, context)

    def guarded_stream(request: Any, context: grpc.ServicerContext) -> Any:
        assert streams is not None
        started = time.perf_counter()
        try:
            stream = streams.admit(gate.admit(context, role, name).partner, name, context)
        except RiskListError as error:
            refuse(error, context, started)
        if kind.startswith("stream_"):  # a request stream: time the waits for the client's messages
            request = streams.watched(stream, request)
        try:
            yield from streams.sent(stream, behaviour(request, context))
        finally:
            streams.release(stream)

    # Response streams hold a thread for their whole life; a client-streaming call with one answer
    # (Admin.Ingest, on the operator's own port) is not limited.
    wrapper = guarded_stream if streams is not None and kind.endswith("_stream") else guarded
    make: Callable[..., grpc.RpcMethodHandler[Any, Any]] = getattr(grpc, f"{kind}_rpc_method_handler")
    return make(wrapper, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)


def _behaviour(handler: grpc.RpcMethodHandler[Any, Any]) -> tuple[str, Callable[[Any, grpc.ServicerContext], Any]]:
    for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
        behaviour = getattr(handler, kind)
        if behaviour is not None:
            return kind, behaviour
    raise ValueError("a method handler without a behaviour")


class _GuardedGeneric(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, gate: Gate, audit: AuditSink,
                 streams: StreamLimits | None) -> None:
        self._inner = inner
        self._gate = gate
        self._audit = audit
        self._streams = streams
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        found = self._wrapped.get(method)
        if found is None:
            handler = self._inner.service(handler_call_details)
            if handler is None:
                return None
            found = self._wrapped.setdefault(method, guard(method, handler, self._gate, self._audit,
                                                                   self._streams))
        return found


class GuardedRegistry:
    """Stands in for a grpc.Server during registration (add_*Servicer_to_server), guarding every handler;
    with `streams`, streaming methods also take a stream slot (risklist_server.rpc.stream_limits)."""

    def __init__(self, server: grpc.Server, gate: Gate, audit: AuditSink = DISCARD,
                 streams: StreamLimits | None = None) -> None:
        self._server = server
        self._gate = gate
        self._audit = audit
        self._streams = streams

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_GuardedGeneric(handler, self._gate, self._audit, self._streams) for handler in handlers))

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        self._server.add_registered_method_handlers(
            service,
            {name: guard(f"/{service}/{name}", handler, self._gate, self._audit, self._streams)
             for name, handler in handlers.items()})
