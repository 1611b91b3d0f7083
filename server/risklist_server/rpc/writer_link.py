"""The writer link: a private gRPC service on a unix socket through which reader workers hand write calls
to the writer, with the caller they authenticated.

Only the server's own processes can reach the socket (it lives in a 0700 directory the
supervisor created), so the partner id it carries is trusted as the receiving worker's TLS
handshake established it. It is never bound to a TCP port.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from risklist_server.audit.trail import DISCARD
from risklist_server.core.errors import ConfigError
from risklist_server.core.link_socket import link_socket_path
from risklist_server.core.partners import Role
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.rpc_log import RpcLog
from risklist_server.rpc.service_health import ServiceHealth, add_service_health
from risklist_server.rpc.status import ForwardedStatus, abort
from risklist_server.rpc.write_calls import LocalWrites, ResponseT, WriteCall, WriteCalls, WriteGateway

WRITER_LINK_SERVICE = "risklist.internal.WriterLink"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_FORWARD_SECONDS = 30.0
"""A forwarded call waits this long at most for the writer (e.g. while it restarts)."""

_PARTNER = "x-risklist-partner"
_ROLES = "x-risklist-roles"
_REQUEST_ID = "x-risklist-request-id"
_VERSION = "x-risklist-list-version"
_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]


def link_address(run_dir: str | Path) -> str:
    return f"unix:{link_socket_path(run_dir)}"


def create_writer_link(
    run_dir: str | Path, calls: WriteCalls, version: Callable[[], int], *, threads: int = 4,
    gateway: WriteGateway | None = None,
) -> tuple[grpc.Server, ServiceHealth]:
    """The writer's end, bound to the socket in `run_dir` (which must be private: mode 0700), not started.

    `calls` run in this process unless `gateway` is given (a cluster node's: through the log, within the
    forwarded call's deadline). Each reply carries the list version after the call in its trailing metadata, so
    the forwarding worker can catch up to its own write before it answers.
    """
    writes = gateway or LocalWrites(calls)
    _require_private(Path(run_dir))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="link"),
                         options=_OPTIONS)
    handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {
        name: grpc.unary_unary_rpc_method_handler(_handler(name, call, writes, version))
        for name, call in calls.items()
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(WRITER_LINK_SERVICE, handlers),))
    health_servicer = add_service_health(server, [])
    address = link_address(run_dir)
    if server.add_insecure_port(address) == 0:
        raise ConfigError(f"cannot listen on {address}")
    return server, health_servicer


def _require_private(run_dir: Path) -> None:
    info = run_dir.stat()
    if not stat.S_ISDIR(info.st_mode) or info.st_mode & 0o077 or info.st_uid != os.getuid():
        raise ConfigError(f"{run_dir} must be a directory of this user with mode 0700 (it holds the writer link)")


def _handler(
    name: str, call: WriteCall[Any, Any], writes: WriteGateway, version: Callable[[], int]
) -> Callable[[bytes, grpc.ServicerContext], bytes]:
    def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
        # Successes are logged (and audited) by the worker that received the partner's call.
        with RpcLog(name, WRITER_LINK_SERVICE, audit=DISCARD, log_success=False) as rpc:
            try:
                metadata = dict(context.invocation_metadata())
                caller = Caller(str(metadata[_PARTNER]),
                                frozenset(Role(role) for role in str(metadata.get(_ROLES, "")).split(",") if role))
                request_id = str(metadata[_REQUEST_ID])
                response: Message = writes.submit(name, caller, request_id, call.request_type.FromString(request),
                                                  call.response_type, timeout=context.time_remaining())
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            context.set_trailing_metadata(((_VERSION, str(version())),))
            return response.SerializeToString()

    return handle


class ForwardedWrites:
    """A reader worker's gateway: hand each write call to the writer over the link, wait for its answer.

    `on_acknowledged(version)` runs after each success with the writer's list version, so the
    worker can make its own write visible to itself before it answers.
    """

    def __init__(self, run_dir: str | Path, *, on_acknowledged: Callable[[int], None] = lambda _: None) -> None:
        self._channel = grpc.insecure_channel(link_address(run_dir), options=_OPTIONS)
        self._on_acknowledged = on_acknowledged
        self._methods: dict[str, grpc.UnaryUnaryMultiCallable[bytes, bytes]] = {}
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def submit(
        self, method: str, caller: Caller, request_id: str, request: Message, response_type: type[ResponseT],
        *, timeout: float | None = None,
    ) -> ResponseT:
        call = self._methods.get(method)
        if call is None:
            call = self._methods[method] = self._channel.unary_unary(f"/{WRITER_LINK_SERVICE}/{method}")
        metadata = ((_PARTNER, caller.partner), (_ROLES, ",".join(sorted(caller.roles))), (_REQUEST_ID, request_id))
        wait = MAX_FORWARD_SECONDS if timeout is None else min(timeout, MAX_FORWARD_SECONDS)
        try:
            response, outcome = call.with_call(request.SerializeToString(), metadata=metadata, timeout=wait,
                                               wait_for_ready=True)
        except grpc.RpcError as error:
            raise ForwardedStatus(_status_of(error)) from None
        trailing = dict(outcome.trailing_metadata() or ())
        if _VERSION in trailing:
            self._on_acknowledged(int(str(trailing[_VERSION])))
        return response_type.FromString(response)

    def writer_serving(self, timeout_s: float) -> bool | None:
        """Whether the writer's health says SERVING (a cluster node's writer: applying the log, not too far behind
        it); None if it did not answer within `timeout_s`."""
        try:
            answer = self._health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError:
            return None
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

    def close(self) -> None:
        self._channel.close()


def _status_of(error: grpc.RpcError) -> status_pb2.Status:
    """The writer's status with its details; a link failure becomes a retryable UNAVAILABLE."""
    status = rpc_status.from_call(error)
    if status is not None:
        return status
    code = error.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return status_pb2.Status(
            code=code_pb2.UNAVAILABLE if code is grpc.StatusCode.UNAVAILABLE else code_pb2.DEADLINE_EXCEEDED,
            message="the store's writer process did not answer in time (restarting?); the write is "
                    "not acknowledged and may or may not be applied: retry it (Report and Revoke are idempotent)")
    return status_pb2.Status(code=code.value[0], message=str(error.details()))
