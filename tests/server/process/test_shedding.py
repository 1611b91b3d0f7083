"""The connection shedder on real sockets: strangers' oldest connections go first, members' never, and /proc parses."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator

import pytest

from risklist_server.process.proc_sockets import parse_address, parse_grpc_peer
from risklist_server.process.shedding import ConnectionShedder
from risklist_server.rpc.access.peers import AuthenticatedPeers


@pytest.fixture()
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield server
    server.close()


def _connect(listener: socket.socket) -> tuple[socket.socket, socket.socket]:
    """A client socket and the server's accepted end, which this process holds (as a worker holds grpc's)."""
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    return client, accepted


def _shut(client: socket.socket) -> bool:
    client.settimeout(5)
    try:
        return client.recv(1) == b""
    except OSError:
        return True


def test_the_oldest_strangers_are_shed_and_members_are_spared(listener: socket.socket) -> None:
    """Near the cap, connections that carried no admitted call go oldest first until twice the headroom is free."""
    peers = AuthenticatedPeers()
    pairs = [_connect(listener) for _ in range(8)]
    member_client, _ = pairs[0]
    peers.add(f"ipv4:127.0.0.1:{member_client.getsockname()[1]}")
    shedder = ConnectionShedder(listener.getsockname()[1], cap=9, peers=peers, headroom=2)
    try:
        assert shedder.shed_once() == 3  # 8 connections, room kept for 2 × 2 under 9: down to 5
        shut = [_shut(client) for client, _ in pairs[1:4]]
        assert shut == [True, True, True]
        member_client.settimeout(0.2)
        with pytest.raises(TimeoutError):
            member_client.recv(1)  # still open: nothing to read, no end of stream
        assert shedder.shed_once() == 0  # the shut-down ones no longer count: 5 left, under the threshold
    finally:
        for client, accepted in pairs:
            client.close()
            accepted.close()


def test_nothing_is_shed_below_the_threshold(listener: socket.socket) -> None:
    """Far from the cap the shedder leaves every connection alone, strangers included."""
    pairs = [_connect(listener) for _ in range(3)]
    try:
        assert ConnectionShedder(listener.getsockname()[1], cap=100, peers=AuthenticatedPeers()).shed_once() == 0
    finally:
        for client, accepted in pairs:
            client.close()
            accepted.close()


@pytest.mark.parametrize(("text", "expected"), [
    ("0100007F:C383", ("127.0.0.1", 50051)),
    ("00000000000000000000000001000000:0050", ("::1", 80)),
    ("0000000000000000FFFF00000100007F:1F90", ("127.0.0.1", 8080)),
])
def test_proc_net_tcp_addresses_parse(text: str, expected: tuple[str, int]) -> None:
    """/proc/net/tcp's little-endian hex endpoints parse, IPv4-mapped IPv6 as IPv4."""
    assert parse_address(text) == (ipaddress.ip_address(expected[0]), expected[1])


@pytest.mark.parametrize(("peer", "expected"), [
    ("ipv4:127.0.0.1:50051", ("127.0.0.1", 50051)),
    ("ipv6:[::1]:443", ("::1", 443)),
    ("ipv6:%5B::ffff:10.0.0.7%5D:5000", ("10.0.0.7", 5000)),
])
def test_grpc_peers_parse_to_the_same_addresses(peer: str, expected: tuple[str, int]) -> None:
    """grpc's context.peer() strings give the addresses /proc lists, so a member's connection is recognised."""
    assert parse_grpc_peer(peer) == (ipaddress.ip_address(expected[0]), expected[1])


def test_unix_and_unknown_peers_are_no_address() -> None:
    """Peers that are no TCP endpoint (the writer link's unix socket) are ignored."""
    assert parse_grpc_peer("unix:/tmp/risklist-run-x/writer.sock") is None


def test_peers_of_closed_connections_are_forgotten_even_far_from_the_cap(listener: socket.socket) -> None:
    """Admitted peers pile up with reconnects; once they outnumber twice the cap, those no longer open are dropped."""
    peers = AuthenticatedPeers()
    client, accepted = _connect(listener)
    try:
        open_peer = f"ipv4:127.0.0.1:{client.getsockname()[1]}"
        peers.add(open_peer)
        for port in range(40000, 40250):
            peers.add(f"ipv4:127.0.0.1:{port}")  # connections long closed: more than twice the cap
        assert len(os.listdir("/proc/self/fd")) < 96  # far from the cap: no shedding scan for connections
        ConnectionShedder(listener.getsockname()[1], cap=100, peers=peers, headroom=4).shed_once()
        assert peers.snapshot() == {open_peer}
    finally:
        client.close()
        accepted.close()
