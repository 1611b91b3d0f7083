"""The supervisor's /metrics endpoint: Prometheus text summed over every worker process, and each worker's
partner-port connections as the kernel sees them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from risklist_server.process.ports import PortError, split_address
from risklist_server.process.proc_sockets import port_socket_list
from risklist_server.process.run_dirs import make_run_dir

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass
class MetricsEndpoint:
    """Serves http://HOST:PORT/metrics until closed; workers write their counters to `directory`."""

    directory: str
    port: int
    _server: WSGIServer
    _registry: Any

    def watch_connections(self, workers: Callable[[], list[tuple[str, int]]], port: int, limit: int) -> None:
        """Report, at each scrape, the TCP connections on `port` each live worker ((name, pid) pairs) holds."""
        self._registry.register(ConnectionCollector(workers, port, limit))

    def process_exited(self, pid: int) -> None:
        """Tell the collector a worker is gone (its counters stay counted)."""
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid, self.directory)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_metrics_endpoint(address: str) -> MetricsEndpoint:
    """Start serving; must run before any worker is forked (they inherit the counters' directory)."""
    host, port = split_address(address)
    directory = make_run_dir("risklist-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory  # read by prometheus_client at import, here and in workers
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        shutil.rmtree(directory, ignore_errors=True)
        raise PortError(f"cannot serve metrics on {address}: {error.strerror}") from None
    return MetricsEndpoint(directory, server.server_port, server, registry)


@dataclass(frozen=True, slots=True)
class PortSockets:
    """One worker's sockets on the partner port, read from /proc."""

    by_state: dict[str, int]
    """Connections (not the listening socket) by TCP state name."""
    accept_queue: int
    """Connections the kernel has accepted that grpc has not taken yet (the listening socket's rx_queue)."""


def port_sockets(pid: int, port: int) -> PortSockets | None:
    """What process `pid` holds on local TCP `port`, counted (None: the process is gone)."""
    sockets = port_socket_list(pid, port)
    if sockets is None:
        return None
    by_state: dict[str, int] = {}
    accept_queue = 0
    for socket_ in sockets:
        if socket_.state == "listen":
            accept_queue += socket_.queue
        else:
            by_state[socket_.state] = by_state.get(socket_.state, 0) + 1
    return PortSockets(by_state, accept_queue)


class ConnectionCollector:
    """risklist_partner_connections{worker,state}, _accept_queue{worker} and the cap, read at each scrape."""

    def __init__(self, workers: Callable[[], list[tuple[str, int]]], port: int, limit: int) -> None:
        self._workers = workers
        self._port = port
        self._limit = limit

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        connections = GaugeMetricFamily(
            "risklist_partner_connections",
            "TCP connections to the partner port each worker holds now, by TCP state (the kernel's view: "
            "handshaking, member and stranger connections alike).", labels=["worker", "state"])
        queued = GaugeMetricFamily(
            "risklist_partner_accept_queue",
            "Connections the kernel accepted on the partner port that the worker has not taken yet.",
            labels=["worker"])
        for worker, pid in self._workers():
            found = port_sockets(pid, self._port)
            if found is None:
                continue
            for state, count in sorted(found.by_state.items()):
                connections.add_metric([worker, state], count)
            queued.add_metric([worker], found.accept_queue)
        yield connections
        yield queued
        yield GaugeMetricFamily("risklist_partner_connections_limit",
                                "Connections per worker beyond which grpc closes new ones at once "
                                "(--max-connections).", value=self._limit)
