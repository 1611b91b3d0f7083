"""Server factories: `create_server(address, ...) -> (server, port)`; tests bind port 0."""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from server.core.errors import RiskListError
from server.lookup import LookupService
from server.outcomes import OutcomeService
from server.rpc.admin_servicer import AdminServicer
from server.rpc.risklist_servicer import RiskListServicer
from server.rpc.rpc_log import ADMIN_SERVICE, RISKLIST_SERVICE
from server.store.risk_store import RiskStore

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


def _bind(server: grpc.Server, address: str) -> int:
    try:
        port = server.add_insecure_port(address)
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
    address: str, threads: int, service: str, register: Callable[[grpc.Server], None], reuse_port: bool = False
) -> tuple[grpc.Server, int, health.HealthServicer]:
    server = _new_server(threads, reuse_port)
    register(server)
    health_servicer = _add_health_and_reflection(server, [service])
    return server, _bind(server, address), health_servicer


def create_server(
    address: str, lookup: LookupService, *, threads: int = 8, reuse_port: bool = False, log_every_rpc: bool = True,
    outcomes: OutcomeService | None = None,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """The partner-facing server (RiskList, health, reflection), bound but not started.

    `reuse_port` lets the workers of one risklist-server share the address (SO_REUSEPORT);
    without `log_every_rpc`, only failed RPCs are logged (all are counted in the metrics).
    """
    servicer = RiskListServicer(lookup, outcomes=outcomes, log_success=log_every_rpc)
    return _serve(address, threads, RISKLIST_SERVICE, lambda server: _add_risklist(servicer, server), reuse_port)


def _add_risklist(servicer: RiskListServicer, server: grpc.Server) -> None:
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
        "ReportOutcome": grpc.unary_unary_rpc_method_handler(
            servicer.ReportOutcome, request_deserializer=pb.ReportOutcomeRequest.FromString,
            response_serializer=pb.ReportOutcomeResponse.SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(RISKLIST_SERVICE, handlers),))
    server.add_registered_method_handlers(RISKLIST_SERVICE, handlers)


def create_admin_server(
    address: str, store: RiskStore, *, threads: int = 4
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """The operator's server (Admin ingest, health, reflection), bound but not started."""
    servicer = AdminServicer(store)
    return _serve(address, threads, ADMIN_SERVICE,
                  lambda server: pb_grpc.add_AdminServicer_to_server(servicer, server))
