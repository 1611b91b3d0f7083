"""A node's cluster settings from its flags: --cluster, --node-id, --max-lag, --log-replicas, NATS's TLS and nkey
(docs/cluster.md).

Imports nothing heavy: the supervisor reads these before it forks, and never loads grpc, nats or RocksDB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from risklist_server.cluster.nats_auth import NO_AUTH, NatsAuth
from risklist_server.core.errors import ConfigError

NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
URL_SCHEMES = ("nats", "tls")
DEFAULT_MAX_LAG_S = 5.0
DEFAULT_REPLICAS = 3
DEFAULT_LOG_MAX_BYTES = 64 * 2**30
DEFAULT_CHECKPOINT_INTERVAL_S = 3600.0
SIZE = re.compile(r"(\d+)([KMGT]?)i?B?", re.IGNORECASE)
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """--cluster, --node-id, --max-lag and the log's shape."""

    servers: tuple[str, ...]
    node_id: str
    max_lag_s: float = DEFAULT_MAX_LAG_S
    replicas: int = DEFAULT_REPLICAS
    """NATS servers holding each entry of the write log (when this node creates the stream)."""
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    """The write log's size bound (when this node creates the stream): its oldest entries go beyond it."""
    checkpoint_interval_s: float = DEFAULT_CHECKPOINT_INTERVAL_S
    """How often this node publishes the cluster's checkpoint while it holds the lease (0: never)."""
    auth: NatsAuth = NO_AUTH
    """How the node verifies the NATS servers and proves itself to them (--cluster-ca, --cluster-nkey ...)."""


def parse_size(text: str, flag: str) -> int:
    """Bytes from '64G', '512MiB', '1048576'; ConfigError naming `flag` otherwise."""
    match = SIZE.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(f"{flag} {text!r}: give a size above 0 such as 512M, 64G or 1T")
    return int(match.group(1)) * UNITS[match.group(2).upper()]


def cluster_servers(servers: str) -> tuple[str, ...]:
    """The NATS servers --cluster names (risklist-server's, risklist-admin's); ConfigError saying how to write them."""
    urls = tuple(url.strip() for url in servers.split(",") if url.strip())
    if not urls:
        raise ConfigError("--cluster names no NATS server: give nats://HOST:PORT[,nats://HOST:PORT...]")
    for url in urls:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise ConfigError(f"--cluster: {url!r} is not a NATS address ({error})") from None
        if parts.scheme not in URL_SCHEMES or not parts.hostname or port is None:
            raise ConfigError(f"--cluster: {url!r} is not a NATS address: write nats://HOST:PORT (or tls://HOST:PORT)")
    return urls


def cluster_config(servers: str, node_id: str | None, *, max_lag_s: float = DEFAULT_MAX_LAG_S,
                   replicas: int = DEFAULT_REPLICAS, log_max_bytes: str = "64G",
                   checkpoint_interval_s: float = DEFAULT_CHECKPOINT_INTERVAL_S) -> ClusterConfig:
    """The cluster's settings from the flags' text; ConfigError saying which flag is wrong and how."""
    urls = cluster_servers(servers)
    if node_id is None:
        raise ConfigError("--cluster needs --node-id: a name for this node, unique in the cluster (e.g. site-a-1)")
    if not NODE_ID.fullmatch(node_id):
        raise ConfigError(f"--node-id {node_id!r}: use 1-63 letters, digits, '.', '_' or '-', starting with a letter "
                          "or digit")
    if not max_lag_s > 0:
        raise ConfigError(f"--max-lag must be above 0 seconds, got {max_lag_s:g}")
    if not 1 <= replicas <= 5:
        raise ConfigError(f"--log-replicas must be 1 to 5, got {replicas} (3 survives the loss of one NATS server)")
    if not checkpoint_interval_s >= 0:
        raise ConfigError(f"--checkpoint-interval must be 0 (never publish) or more seconds, "
                          f"got {checkpoint_interval_s:g}")
    return ClusterConfig(urls, node_id, max_lag_s, replicas, parse_size(log_max_bytes, "--log-max-bytes"),
                         checkpoint_interval_s)


