"""grpc health for a server's services, switched together: SERVING, or NOT_SERVING while a cluster node cannot be
sure its records are current (load balancers and health-checking clients then route away)."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class ServiceHealth(health.HealthServicer):
    """The standard health service, knowing the names it answers for ("" and each service) so that set_serving
    switches them all. After enter_graceful_shutdown every name stays NOT_SERVING (grpc's own rule)."""

    def __init__(self, services: list[str]) -> None:
        super().__init__()
        self.names = ["", *services]
        self.set_serving(True)

    def set_serving(self, serving: bool) -> None:
        for name in self.names:
            self.set(name, SERVING if serving else NOT_SERVING)


def add_service_health(server: grpc.Server, services: list[str]) -> ServiceHealth:
    """Health for `services` (and ""), SERVING, added to `server`."""
    servicer = ServiceHealth(services)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    return servicer
