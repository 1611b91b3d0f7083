"""Room under a worker's connection cap: the oldest connections that never carried an admitted call go first."""

from __future__ import annotations

import os
import socket
import time

import structlog
from prometheus_client import Counter

from risklist_server.process.proc_sockets import Address, parse_grpc_peer, port_socket_list
from risklist_server.rpc.access.peers import AuthenticatedPeers
from risklist_server.services.poller import Poller

INTERVAL_SECONDS = 0.1
LOG_EVERY_SECONDS = 10.0

log = structlog.get_logger("risklist.server")

SHED = Counter("risklist_connections_shed_total",
               "Partner-port connections closed to keep room under the cap (never one that carried an admitted call).")


def headroom_for(cap: int) -> int:
    """Connections kept free under `cap`: a sixteenth of it, at least 4."""
    return max(4, cap // 16)


class ConnectionShedder:
    """Keeps `headroom` connections free under this worker's cap on `port`.

    grpc closes a connection accepted at its cap (the newest), so a stranger who fills the cap
    with idle connections would lock members out until the handshake timeout. Every
    INTERVAL_SECONDS this process's connections on the port are read from /proc; once they come
    within `headroom` of the cap, the oldest that never carried an admitted call (a stranger's, or a
    handshake that never finished) are shut down until 2 × `headroom` are free, so a new connection
    always finds room. A connection that carried an admitted call (a member's) is never shed.
    """

    def __init__(self, port: int, cap: int, peers: AuthenticatedPeers, *, headroom: int | None = None,
                 interval: float = INTERVAL_SECONDS) -> None:
        self._port = port
        self._cap = cap
        self._headroom = headroom_for(cap) if headroom is None else headroom
        self._peers = peers
        self._first_seen: dict[int, float] = {}
        self._shed_since_log = 0
        self._logged_at = -LOG_EVERY_SECONDS
        self._poller = Poller(self.shed_once, seconds=interval, name="connection-shedder",
                              failure_event="connection_shedding_failed")

    def start(self) -> ConnectionShedder:
        self._poller.start()
        return self

    def stop(self) -> None:
        self._poller.stop()

    def shed_once(self) -> int:
        """One round: how many connections it shut down."""
        threshold = self._cap - self._headroom
        # Every connection holds a descriptor: with fewer descriptors there is nothing to shed, and the
        # /proc scan is skipped unless the admitted peers piled up (reconnects) and want pruning.
        if len(os.listdir("/proc/self/fd")) < threshold and len(self._peers) <= 2 * self._cap:
            self._first_seen.clear()
            return 0
        sockets = port_socket_list("self", self._port) or []
        # Established ones only: a connection shut down (by us or its client) is on its way out.
        connections = [found for found in sockets if found.state == "established"]
        now = time.monotonic()
        self._first_seen = {found.inode: self._first_seen.get(found.inode, now) for found in connections}
        members, gone = self._member_addresses({found.remote for found in connections})
        self._peers.forget(gone)
        excess = len(connections) - (self._cap - 2 * self._headroom)
        if len(connections) < threshold or excess <= 0:
            return 0
        strangers = sorted((found for found in connections if found.remote not in members),
                           key=lambda found: self._first_seen[found.inode])
        shed = sum(_shut_down(found.fd, found.inode) for found in strangers[:excess])
        self._count(shed, len(connections))
        return shed

    def _member_addresses(self, open_remotes: set[Address]) -> tuple[set[Address], set[str]]:
        """The open remotes that carried an admitted call, and the peer strings no longer open."""
        members: set[Address] = set()
        gone: set[str] = set()
        for peer in self._peers.snapshot():
            address = parse_grpc_peer(peer)
            if address in open_remotes:
                members.add(address)
            else:
                gone.add(peer)
        return members, gone

    def _count(self, shed: int, connections: int) -> None:
        if not shed:
            return
        SHED.inc(shed)
        self._shed_since_log += shed
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_SECONDS:  # at most one line per 10 s under a flood
            log.warning("connections_shed", shed=self._shed_since_log, connections=connections, cap=self._cap,
                        port=self._port)
            self._logged_at, self._shed_since_log = now, 0


def _shut_down(fd: int, inode: int) -> bool:
    """Shut down the connection behind `fd` if it is still socket `inode` (the server then closes its end)."""
    try:
        duplicate = os.dup(fd)
    except OSError:
        return False  # closed meanwhile
    try:
        connection = socket.socket(fileno=duplicate)
    except OSError:
        os.close(duplicate)
        return False  # reused for something that is no socket
    try:
        if os.fstat(duplicate).st_ino != inode:
            return False  # the descriptor was reused for something else meanwhile
        connection.shutdown(socket.SHUT_RDWR)
        return True
    except OSError:
        return False
    finally:
        connection.close()
