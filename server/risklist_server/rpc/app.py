"""Server factories: `create_server(address, ...) -> (server, port)`; tests bind port 0."""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.errors import RiskListError
from risklist_server.audit.trail import DISCARD, AuditSink
from risklist_server.rpc.access.config import Security
from risklist_server.rpc.access.gate import Gate
from risklist_server.rpc.access.guard import GuardedRegistry
from risklist_server.rpc.admin_servicer import AdminServicer
from risklist_server.rpc.risklist_servicer import RiskListServicer
from risklist_server.rpc.rpc_log import ADMIN_SERVICE, RISKLIST_SERVICE
from risklist_server.rpc.write_calls import WriteGateway
from risklist_server.services.entries import EntryService
from risklist_server.services.lookup import LookupService
from risklist_server.store.filter_export import FilterExport
from risklist_server.store.risk_store import RiskStore

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class BindError(RiskListError):
    """The listen address could not be bound."""


def _new_server(threads: int, reuse_port: bool) -> grpc.Server:
    return grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rpc"),
        options=[
            # Off unless several workers share the port on purpose: two servers never
            # silently share one.
            ("grpc.so_reuseport", int(reuse_port)),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )


def _credentials(security: Security) -> grpc.ServerCredentials | None:
    """Mutual TLS: the client must present a certificate that chains to the client CA."""
    if security.tls is None:
        return None
    return grpc.ssl_server_credentials([(security.tls.private_key, security.tls.cert_chain)],
                                       root_certificates=security.tls.client_ca, require_client_auth=True)


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


def _add_health_and_reflection(server: grpc.Server, services: list[str]) -> health.HealthServicer:
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *services]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([*services, reflection.SERVICE_NAME, health.SERVICE_NAME], server)
    return health_servicer


def _serve(
    address: str, threads: int, service: str, register: Callable[[GuardedRegistry], None], gate: Gate,
    reuse_port: bool = False, audit: AuditSink = DISCARD,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    server = _new_server(threads, reuse_port)
    # Every method checks caller, role and quota first; refusals are audited.
    register(GuardedRegistry(server, gate, audit))
    health_servicer = _add_health_and_reflection(server, [service])
    return server, _bind(server, address, _credentials(gate.security)), health_servicer


def create_server(
    address: str, lookup: LookupService, *, threads: int = 8, reuse_port: bool = False, log_every_rpc: bool = True,
    writes: WriteGateway | None = None, entries: EntryService | None = None, audit: AuditSink = DISCARD,
    gate: Gate | None = None, filters: FilterExport | None = None,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """The partner-facing server (RiskList, health, reflection), bound but not started.

    `gate`: mutual TLS and the partners (its Security), or (None, for tests) a gate of its own
    in plaintext with every caller the development partner; a process passes its one gate to
    each of its servers, so they share quota buckets.
    `reuse_port` lets the workers of one risklist-server share the address (SO_REUSEPORT);
    without `log_every_rpc`, only failed RPCs are logged (all are counted in the metrics);
    every lookup is recorded in `audit`.
    Report/Revoke go through `writes`, GetEntry to `entries` (UNIMPLEMENTED without them).
    `filters` serves GetFilter/GetFilterUpdates (without it they are UNIMPLEMENTED).
    """
    gate = gate or Gate()
    servicer = RiskListServicer(lookup, gate=gate, log_success=log_every_rpc, writes=writes, entries=entries,
                                audit=audit, filters=filters)
    return _serve(address, threads, RISKLIST_SERVICE, lambda server: _add_risklist(servicer, server), gate,
                  reuse_port, audit)


def _add_risklist(servicer: RiskListServicer, server: GuardedRegistry) -> None:
    """As the generated add_RiskListServicer_to_server, but BatchCheck and StreamCheck get requests' bytes."""
    handlers = {
        "Check": grpc.unary_unary_rpc_method_handler(
            servicer.Check, request_deserializer=pb.CheckRequest.FromString,
            response_serializer=pb.CheckResponse.SerializeToString),
        "BatchCheck": grpc.unary_unary_rpc_method_handler(
            servicer.BatchCheck, request_deserializer=None,
            response_serializer=pb.BatchCheckResponse.SerializeToString),
        "StreamCheck": grpc.stream_stream_rpc_method_handler(
            servicer.StreamCheck, request_deserializer=None,
            response_serializer=pb.BatchCheckResponse.SerializeToString),
        **_unary(servicer.Report, pb.ReportRequest, pb.ReportResponse),
        **_unary(servicer.Revoke, pb.RevokeRequest, pb.RevokeResponse),
        **_unary(servicer.GetEntry, pb.GetEntryRequest, pb.GetEntryResponse),
        "GetFilter": grpc.unary_stream_rpc_method_handler(
            servicer.GetFilter, request_deserializer=pb.GetFilterRequest.FromString,
            response_serializer=pb.FilterChunk.SerializeToString),
        "GetFilterUpdates": grpc.unary_stream_rpc_method_handler(
            servicer.GetFilterUpdates, request_deserializer=pb.GetFilterUpdatesRequest.FromString,
            response_serializer=pb.FilterUpdate.SerializeToString),
        **_unary(servicer.ReportOutcome, pb.ReportOutcomeRequest, pb.ReportOutcomeResponse),
        **_unary(servicer.GetNetworkInfo, pb.GetNetworkInfoRequest, pb.GetNetworkInfoResponse),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(RISKLIST_SERVICE, handlers),))
    server.add_registered_method_handlers(RISKLIST_SERVICE, handlers)


def _unary(behaviour: Callable[[Any, grpc.ServicerContext], Any], request_type: type[Message],
           response_type: type[Message]) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """{method name: handler} for a plain unary method (the name is the servicer method's)."""
    return {behaviour.__name__: grpc.unary_unary_rpc_method_handler(
        behaviour, request_deserializer=request_type.FromString,
        response_serializer=response_type.SerializeToString)}


def create_admin_server(
    address: str, store: RiskStore, *, threads: int = 4, audit: AuditSink = DISCARD,
    gate: Gate | None = None,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """The operator's server (Admin ingest, health, reflection), bound but not started; callers need
    `admin`; ingests audited. `gate` as for create_server."""
    gate = gate or Gate()
    servicer = AdminServicer(store, gate=gate, audit=audit)
    return _serve(address, threads, ADMIN_SERVICE,
                  lambda server: pb_grpc.add_AdminServicer_to_server(servicer, server), gate, audit=audit)
