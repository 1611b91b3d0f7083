"""Server factories: `create_server(address, ...) -> (server, port)`; tests bind port 0."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.errors import RiskListError
from risklist_server.audit.trail import DISCARD, AuditSink
from risklist_server.rpc.access.gate import Gate
from risklist_server.rpc.access.guard import GuardedRegistry
from risklist_server.rpc.admin_servicer import DEFAULT_MAX_BATCH, AdminServicer
from risklist_server.rpc.drain import Drain
from risklist_server.rpc.ingest_loads import IngestLoads
from risklist_server.rpc.message_limits import MAX_SEND_BYTES, admin_max_receive_bytes, partner_max_receive_bytes
from risklist_server.rpc.request_waits import RequestWaits
from risklist_server.rpc.requests import RequestReader, RequestStream
from risklist_server.rpc.risklist_servicer import RiskListServicer
from risklist_server.rpc.rpc_log import ADMIN_SERVICE, RISKLIST_SERVICE
from risklist_server.rpc.service_health import ServiceHealth, add_service_health
from risklist_server.rpc.stream_limits import StreamLimits
from risklist_server.rpc.write_calls import WriteGateway
from risklist_server.services.entries import EntryService
from risklist_server.services.hit_tokens import HitTokens
from risklist_server.services.lookup import LookupService
from risklist_server.store.filter_export import FilterExport
from risklist_server.store.risk_store import RiskStore


class BindError(RiskListError):
    """The listen address could not be bound."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What a connection may take of a worker before it is a member's (docs/operations.md, "Connections and streams").

    grpc closes a connection that has not finished its TLS handshake (and so shown a client
    certificate) within `handshake_timeout_seconds`, and closes at once any connection accepted
    while `max_connections` are open.
    """

    handshake_timeout_seconds: float = 10.0
    max_connections: int = 4096


def _new_server(threads: int, reuse_port: bool, connections: ConnectionLimits, max_receive_bytes: int) -> grpc.Server:
    return grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rpc"),
        options=[
            # Off unless several workers share the port on purpose: two servers never
            # silently share one.
            ("grpc.so_reuseport", int(reuse_port)),
            ("grpc.max_receive_message_length", max_receive_bytes),
            ("grpc.max_send_message_length", MAX_SEND_BYTES),
            ("grpc.server_handshake_timeout_ms", round(connections.handshake_timeout_seconds * 1000)),
            ("grpc.max_allowed_incoming_connections", connections.max_connections),
        ],
    )


def _credentials(gate: Gate) -> grpc.ServerCredentials | None:
    """Mutual TLS: the client must present a certificate that chains to the client CA. The certificates are
    the gate's: each new handshake uses those in force (a reload applies to new connections)."""
    if gate.security.tls is None:
        return None
    # The stubs say the fetcher returns a configuration; grpc's docs (and code) take None as "no change".
    return grpc.dynamic_ssl_server_credentials(gate.certificate_configuration(),
                                               gate.certificate_fetcher(),  # type: ignore[arg-type]
                                               require_client_authentication=True)


def _bind(server: grpc.Server, address: str, credentials: grpc.ServerCredentials | None) -> int:
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as error:
        raise BindError(f"cannot listen on {address}: {error}") from None
    if port == 0:
        raise BindError(f"cannot listen on {address}: address in use or not available")
    return port


def _add_health_and_reflection(server: grpc.Server, services: list[str]) -> ServiceHealth:
    health_servicer = add_service_health(server, services)
    reflection.enable_server_reflection([*services, reflection.SERVICE_NAME, health.SERVICE_NAME], server)
    return health_servicer


def _serve(
    address: str, threads: int, service: str, register: Callable[[GuardedRegistry], None], gate: Gate, *,
    connections: ConnectionLimits, max_receive_bytes: int, reuse_port: bool = False, audit: AuditSink = DISCARD,
    streams: StreamLimits | None = None,
) -> tuple[grpc.Server, int, ServiceHealth]:
    # Streams hold a thread each for their whole life: they get threads of their own, on top of
    # `threads`, and never more (StreamLimits.total), so unary calls never wait behind them.
    pool = threads + (streams.total if streams is not None else 0)
    server = _new_server(pool, reuse_port, connections, max_receive_bytes)
    # Every method checks caller, role and quota first (and a stream slot); refusals are audited.
    register(GuardedRegistry(server, gate, audit, streams))
    health_servicer = _add_health_and_reflection(server, [service])
    return server, _bind(server, address, _credentials(gate)), health_servicer


def create_server(
    address: str, lookup: LookupService, *, threads: int = 8, reuse_port: bool = False, log_every_rpc: bool = True,
    writes: WriteGateway | None = None, entries: EntryService | None = None, audit: AuditSink = DISCARD,
    gate: Gate | None = None, filters: FilterExport | None = None, connections: ConnectionLimits = ConnectionLimits(),
    streams: StreamLimits | None = None, tokens: HitTokens | None = None, drain: Drain | None = None,
    request_waits: RequestWaits | None = None,
) -> tuple[grpc.Server, int, ServiceHealth]:
    """The partner-facing server (RiskList, health, reflection), bound but not started.

    `gate`: mutual TLS and the partners (its Security), or (None, for tests) a gate of its own
    in plaintext with every caller the development partner; a process passes its one gate to
    each of its servers, so they share quota buckets.
    `reuse_port` lets the workers of one risklist-server share the address (SO_REUSEPORT);
    without `log_every_rpc`, only failed RPCs are logged (all are counted in the metrics);
    every lookup is recorded in `audit`.
    Report/Revoke go through `writes`, GetEntry to `entries` (UNIMPLEMENTED without them).
    `filters` serves GetFilter/GetFilterUpdates (without it they are UNIMPLEMENTED).
    `connections` bounds connections; `streams` (None: unlimited, for tests) caps open streaming calls
    per member and in all, ends idle ones, and adds `streams.total` threads for them. A request larger
    than the largest legal one (settings.max_batch items) is refused by grpc before it is read.
    `tokens` gives each hit its outcome token (None: hits carry none, and ReportOutcome refuses their outcomes).
    `drain` (the process's, shared by its servers) keeps count of the calls in flight for a worker that stops.
    `request_waits` (None: unbounded, for tests) ends calls that hold a thread waiting for their request message
    beyond the member's share (risklist_server.rpc.request_waits).
    """
    gate = gate or Gate()
    servicer = RiskListServicer(lookup, gate=gate, log_success=log_every_rpc, writes=writes, entries=entries,
                                audit=audit, filters=filters, tokens=tokens, drain=drain)
    reader = RequestReader(RISKLIST_SERVICE, gate, audit, log_success=log_every_rpc, drain=drain,
                           waits=request_waits)
    return _serve(address, threads, RISKLIST_SERVICE, lambda server: _add_risklist(servicer, reader, server), gate,
                  connections=connections, max_receive_bytes=partner_max_receive_bytes(lookup.max_batch),
                  reuse_port=reuse_port, audit=audit, streams=streams)


def _add_risklist(servicer: RiskListServicer, reader: RequestReader, server: GuardedRegistry) -> None:
    """As the generated add_RiskListServicer_to_server, but every method gets its requests' bytes (the servicer
    checks and parses them: risklist_server.rpc.decode) and is registered request-streaming (_taking_bytes)."""
    handlers = {
        **_taking_bytes("unary_unary", servicer.Check, pb.CheckResponse, reader),
        **_taking_bytes("unary_unary", servicer.BatchCheck, pb.BatchCheckResponse, reader),
        **_taking_bytes("stream_stream", servicer.StreamCheck, pb.BatchCheckResponse, reader),
        **_taking_bytes("unary_unary", servicer.Report, pb.ReportResponse, reader),
        **_taking_bytes("unary_unary", servicer.Revoke, pb.RevokeResponse, reader),
        **_taking_bytes("unary_unary", servicer.GetEntry, pb.GetEntryResponse, reader),
        **_taking_bytes("unary_stream", servicer.GetFilter, pb.FilterChunk, reader),
        **_taking_bytes("unary_stream", servicer.GetFilterUpdates, pb.FilterUpdate, reader),
        **_taking_bytes("unary_unary", servicer.ReportOutcome, pb.ReportOutcomeResponse, reader),
        **_taking_bytes("unary_unary", servicer.GetNetworkInfo, pb.GetNetworkInfoResponse, reader),
    }
    _register(server, RISKLIST_SERVICE, handlers)


def _add_admin(servicer: AdminServicer, reader: RequestReader, server: GuardedRegistry) -> None:
    """As the generated add_AdminServicer_to_server, but the methods get their requests' bytes (the servicer
    checks and parses them: risklist_server.rpc.decode) and are registered request-streaming (_taking_bytes)."""
    _register(server, ADMIN_SERVICE, {
        **_taking_bytes("stream_unary", servicer.Ingest, pb.IngestResponse, reader),
        **_taking_bytes("unary_unary", servicer.GetQuality, pb.GetQualityResponse, reader),
        **_taking_bytes("unary_unary", servicer.GetNetworkInfo, pb.GetNetworkInfoResponse, reader),
        **_taking_bytes("unary_unary", servicer.Backup, pb.BackupResponse, reader),
    })


def _register(server: GuardedRegistry, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]) -> None:
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_registered_method_handlers(service, handlers)


def _taking_bytes(kind: str, behaviour: Callable[[Any, grpc.ServicerContext], Any],
                  response_type: type[Message], reader: RequestReader) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """{method name: handler} for a servicer method of grpc's `kind` ("unary_unary", "stream_stream", …) that
    takes its request's bytes (no deserializer; the name is the servicer method's).

    The handler is always request-streaming (grpc's unary and streaming requests are the same on the wire), so
    it runs as soon as the call arrives: `reader` reads a unary method's one request and audits a call that
    never delivers it (risklist_server.rpc.requests); a streaming method reads RequestStream.
    """
    name = behaviour.__name__
    serializer = response_type.SerializeToString
    if kind.startswith("stream_"):
        def streaming(requests: Iterator[bytes], context: grpc.ServicerContext) -> Any:
            return behaviour(RequestStream(requests, context, reader.drain), context)

        many = kind == "stream_stream"
        make = grpc.stream_stream_rpc_method_handler if many else grpc.stream_unary_rpc_method_handler
        return {name: make(streaming, request_deserializer=None, response_serializer=serializer)}
    if kind.endswith("_stream"):
        def one_to_many(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[Any]:
            yield from behaviour(reader.single(name, requests, context), context)

        return {name: grpc.stream_stream_rpc_method_handler(one_to_many, request_deserializer=None,
                                                            response_serializer=serializer)}

    def one_to_one(requests: Iterator[bytes], context: grpc.ServicerContext) -> Any:
        return behaviour(reader.single(name, requests, context), context)

    return {name: grpc.stream_unary_rpc_method_handler(one_to_one, request_deserializer=None,
                                                       response_serializer=serializer)}


def create_admin_server(
    address: str, store: RiskStore, *, threads: int = 4, audit: AuditSink = DISCARD,
    gate: Gate | None = None, max_batch: int = DEFAULT_MAX_BATCH,
    connections: ConnectionLimits = ConnectionLimits(max_connections=64), drain: Drain | None = None,
    loads: IngestLoads | None = None,
) -> tuple[grpc.Server, int, ServiceHealth]:
    """The operator's server (Admin ingest, health, reflection), bound but not started; callers need
    `admin`; ingests audited; an ingest batch holds at most `max_batch` mutations, its load applied by `loads`
    (default: to `store` here). `gate` and `connections` as for create_server."""
    gate = gate or Gate()
    servicer = AdminServicer(store, gate=gate, audit=audit, max_batch=max_batch, drain=drain, loads=loads)
    reader = RequestReader(ADMIN_SERVICE, gate, audit, drain=drain)
    return _serve(address, threads, ADMIN_SERVICE, lambda server: _add_admin(servicer, reader, server), gate,
                  connections=connections, max_receive_bytes=admin_max_receive_bytes(), audit=audit)
