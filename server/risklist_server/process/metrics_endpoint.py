"""The supervisor's /metrics endpoint: Prometheus text summed over every worker process."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from risklist_server.process.ports import PortError, split_address
from risklist_server.process.run_dirs import make_run_dir

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass
class MetricsEndpoint:
    """Serves http://HOST:PORT/metrics until closed; workers write their counters to `directory`."""

    directory: str
    port: int
    _server: WSGIServer

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
    return MetricsEndpoint(directory, server.server_port, server)
