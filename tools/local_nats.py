"""Real nats-server processes with JetStream, clustered on loopback: what the cluster tests, the cluster benchmark
and `make cluster` run risklist nodes on.

Each server has its own client, route and monitoring port (fixed at the first start, so a killed server comes
back where its peers and clients look for it) and its own JetStream directory. nats-server is Debian's package,
installed by `make test` and `make cluster` (tools/ensure_debian_tools.sh). A cluster made `secure` requires TLS
with client certificates (issued as `risklist-admin certs` does) and an nkey user on its client ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nkeys

from risklist_server.cli.certs import issue
from risklist_server.cluster.nats_auth import NO_AUTH, NatsAuth, nats_auth
from tools.loopback_ports import free_ports

NATS_SERVER = "nats-server"
CLUSTER_NAME = "risklist-test"
START_TIMEOUT_S = 30.0
NODE_CERT = "nats-node"
"""The client certificate's name (CN) a secure cluster's nodes present."""


def write_nkey_seed(path: Path) -> str:
    """A new nkey user seed in `path` (mode 0600, as `nk -gen user` writes it); its public key (U...)."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(seed + b"\n")
    public: str = nkeys.from_seed(bytearray(seed)).public_key.decode()
    return public


@dataclass(frozen=True)
class NatsSecurity:
    """A secure cluster's files: a CA, the servers' and the nodes' certificates, and the nodes' nkey user."""

    directory: Path
    nkey_public: str

    @classmethod
    def create(cls, directory: Path) -> NatsSecurity:
        issue(directory, [NODE_CERT])  # ca.pem, server.pem/.key (localhost, 127.0.0.1), nats-node.pem/.key
        return cls(directory, write_nkey_seed(directory / "node.nk"))

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.directory / f"{NODE_CERT}.pem"

    @property
    def key(self) -> Path:
        return self.directory / f"{NODE_CERT}.key"

    @property
    def nkey_seed(self) -> Path:
        return self.directory / "node.nk"

    def node_flags(self) -> tuple[str, ...]:
        """risklist-server's flags for a node of the cluster."""
        return ("--cluster-ca", str(self.ca), "--cluster-cert", str(self.cert), "--cluster-key", str(self.key),
                "--cluster-nkey", str(self.nkey_seed))

    def auth(self) -> NatsAuth:
        """What those flags make of the files (risklist_server.cluster.nats_auth)."""
        return nats_auth(ca=str(self.ca), cert=str(self.cert), key=str(self.key), nkey=str(self.nkey_seed))

    def server_blocks(self) -> list[str]:
        """nats.conf's blocks: TLS verifying client certificates, and the nodes' nkey as the only user."""
        return [
            "tls {",
            f'  cert_file: "{self.directory / "server.pem"}"',
            f'  key_file: "{self.directory / "server.key"}"',
            f'  ca_file: "{self.ca}"',
            "  verify: true",
            "}",
            "authorization {",
            f'  users: [{{nkey: "{self.nkey_public}"}}]',
            "}",
        ]


@dataclass
class NatsServer:
    """One server of the cluster: its name, ports, directory and, while it runs, its process."""

    name: str
    client_port: int
    route_port: int
    monitor_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "nats-server.log"

    def monitor(self, endpoint: str) -> dict[str, object] | None:
        """A monitoring endpoint's JSON, or None while the server does not answer (or answers an error)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/{endpoint}", timeout=2) as response:
                loaded: dict[str, object] = json.load(response)
                return loaded
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def healthy(self) -> bool:
        """JetStream is up on this server and current with the cluster's meta group (/healthz says ok)."""
        health = self.monitor("healthz")
        return health is not None and health.get("status") == "ok"


@dataclass
class NatsCluster:
    """Servers that route to one another, each started and killed on its own."""

    servers: list[NatsServer]
    root: Path
    security: NatsSecurity | None = None
    """TLS and nkey authentication on the client ports (None: plaintext, anyone may connect)."""
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path, size: int = 3, *, secure: bool = False) -> NatsCluster:
        """`size` servers (one: no cluster block); `secure`: TLS with client certificates and an nkey user."""
        ports = free_ports(3 * size)
        servers = [NatsServer(f"n{number + 1}", ports[3 * number], ports[3 * number + 1], ports[3 * number + 2],
                              root / f"n{number + 1}") for number in range(size)]
        cluster = cls(servers, root, NatsSecurity.create(root / "security") if secure else None)
        for server in servers:
            server.directory.mkdir(parents=True, exist_ok=True)
            (server.directory / "nats.conf").write_text(cluster._config(server))
        return cluster

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    def node_flags(self) -> tuple[str, ...]:
        """risklist-server's flags naming the servers (and, if secure, its TLS and nkey files)."""
        return ("--cluster", ",".join(self.urls), *(self.security.node_flags() if self.security else ()))

    def client_options(self) -> dict[str, Any]:
        """nats-py connect()'s keyword arguments for a client the servers let in."""
        auth = self.security.auth() if self.security else NO_AUTH
        return {"servers": self.urls, **auth.connect_options()}

    def _config(self, server: NatsServer) -> str:
        routes = ", ".join(f'"nats-route://127.0.0.1:{other.route_port}"'
                           for other in self.servers if other is not server)
        cluster = [] if len(self.servers) == 1 else [
            "cluster {",
            f'  name: "{CLUSTER_NAME}"',
            f"  listen: 127.0.0.1:{server.route_port}",
            f"  routes: [{routes}]",
            "}",
        ]
        return "\n".join([
            f'server_name: "{server.name}"',
            f"listen: 127.0.0.1:{server.client_port}",
            f"http: 127.0.0.1:{server.monitor_port}",
            "jetstream {",
            f'  store_dir: "{server.directory / "jetstream"}"',
            "  max_memory_store: 64MB",
            "  max_file_store: 2GB",
            "}",
            *cluster,
            *(self.security.server_blocks() if self.security else []),
            f'log_file: "{server.log_path}"',
            "",
        ])

    def start(self, *names: str) -> None:
        """Start the named servers (every one that is not running, if none is named); return once each is healthy."""
        chosen = [server for server in self.servers if (server.name in names if names else server.process is None)]
        for server in chosen:
            if server.process is not None and server.process.poll() is None:
                raise RuntimeError(f"{server.name} is already running")
            server.process = subprocess.Popen([NATS_SERVER, "-c", str(server.directory / "nats.conf")],
                                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True)
            self.started.append(server.process)
        for server in chosen:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not (self._running(server) and server.healthy()):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server {server.name} did not become healthy within "
                                       f"{START_TIMEOUT_S:g} s; its log: {server.log_path}")
                time.sleep(0.05)

    def _running(self, server: NatsServer) -> bool:
        assert server.process is not None
        if server.process.poll() is not None:
            log = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
            raise RuntimeError(f"nats-server {server.name} exited {server.process.returncode}:\n{log[-3000:]}")
        return True

    def kill(self, name: str) -> None:
        """kill -9 one server (its JetStream directory stays, as after a crash)."""
        server = self.server(name)
        assert server.process is not None, f"{name} is not running"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
        server.process = None

    def server(self, name: str) -> NatsServer:
        return next(server for server in self.servers if server.name == name)

    def stop(self) -> None:
        """Kill every server this cluster started; remove nothing (pytest's tmp_path does)."""
        for process in self.started:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for server in self.servers:
            server.process = None

