"""A call's request messages as the servicers read them, so that a request that never arrives is still audited.

Python's grpc reads a unary method's request before it calls the handler: a call whose message
grpc refused (larger than the port's limit), whose caller cancelled or whose deadline passed
before the message arrived, or that carried no message at all, never reached a servicer and left
no audit record. So every method is registered request-streaming (app.py): the handler starts at
once, the request is read here, and a call that ends without one is logged and audited (no
subjects, the request marked as not received) with the status its caller got, as far as grpc
tells: it reports a refused message and a cancelled call alike, as a cancelled call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc

from risklist_kernel.errors import RiskListError
from risklist_server.audit.trail import AuditSink
from risklist_server.rpc.access.caller import Authenticator
from risklist_server.rpc.drain import Drain, ended_status
from risklist_server.rpc.request_id import new_request_id
from risklist_server.rpc.request_waits import RequestWaits
from risklist_server.rpc.rpc_log import RpcLog
from risklist_server.rpc.status import RequestNotReceived, abort


class NoRequest(RiskListError):
    """A unary method's call closed its request stream without a message (INVALID_ARGUMENT)."""

    def __init__(self, method: str) -> None:
        super().__init__(f"the call carried no request message; {method} takes exactly one")


SETTLE_SECONDS = 0.1
"""How long the server waits, when a request stream ends, for grpc to say whether the caller closed it or the
call was cut off: grpc ends the stream first and reports the cancellation a moment later."""


def _cut_off(context: grpc.ServicerContext) -> bool:
    """Whether a call whose request stream just ended was cut off (rather than closed by its caller), once grpc
    has had SETTLE_SECONDS to say so."""
    ended = threading.Event()
    if not context.add_callback(ended.set):  # already over
        return True
    return ended.wait(SETTLE_SECONDS) or not context.is_active()


class RequestStream(Iterator[bytes]):
    """A call's request messages; RequestNotReceived instead of grpc's bare error (or of a quiet end) when the
    call ended before the caller closed its side."""

    __slots__ = ("_requests", "_context", "_drain")

    def __init__(self, requests: Iterator[bytes], context: grpc.ServicerContext, drain: Drain | None) -> None:
        self._requests = requests
        self._context = context
        self._drain = drain

    def __iter__(self) -> RequestStream:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._requests)
        except grpc.RpcError:
            raise RequestNotReceived(ended_status(self._context, self._drain)) from None
        except StopIteration:
            if _cut_off(self._context):  # by grpc (an idle stream, a refused message, a cancellation), not the caller
                raise RequestNotReceived(ended_status(self._context, self._drain)) from None
            raise


class RequestReader:
    """Reads the one request of a unary-request method; a call without one is logged and audited here."""

    def __init__(self, service: str, gate: Authenticator, audit: AuditSink, *, log_success: bool = True,
                 drain: Drain | None = None, waits: RequestWaits | None = None) -> None:
        self._service = service
        self._gate = gate
        self._audit = audit
        self._log_success = log_success
        self.drain = drain
        self._waits = waits

    def single(self, method: str, requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        """The call's request message; if it has none, audit the call and end it with the status that says why.

        With `waits`, a call that waits too long for its message is ended by their watchdog (and audited here with
        the status its caller got)."""
        waits = self._waits
        waiting = waits.begin(context, method) if waits is not None else None
        try:
            try:
                message = next(RequestStream(requests, context, self.drain))
            except StopIteration:
                raise NoRequest(method) from None
            finally:
                taken = waits is not None and waiting is not None and not waits.end(waiting)
            if taken and waiting is not None:  # the watchdog ended it as the message came: the caller has its status
                raise RequestNotReceived(waiting.ended or "CANCELLED")
            return message
        except (NoRequest, RequestNotReceived) as error:
            # A call the watchdog ended: audited with the status its caller got.
            why = error if waiting is None or waiting.ended is None else RequestNotReceived(waiting.ended)
            with RpcLog(method, self._service, audit=self._audit, log_success=self._log_success, context=context,
                        drain=self.drain) as rpc:
                rpc.audit(self._gate.caller(context).partner, new_request_id()).received = False
                rpc.fail(why)
            abort(context, why)
