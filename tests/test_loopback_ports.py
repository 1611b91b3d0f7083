"""The nats fixture's ports: a killed nats-server comes back on its own ports, so they must be ports the kernel
never hands out by itself (an outgoing connection's local port, a listener on port 0) in the meantime."""

from __future__ import annotations

import socket
from pathlib import Path

from tools.loopback_ports import free_ports

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def test_ports_are_distinct_free_and_outside_the_kernels_ephemeral_range() -> None:
    low, high = (int(part) for part in EPHEMERAL.read_text().split())
    ports = free_ports(12)
    assert len(set(ports)) == 12
    assert all(not low <= port <= high for port in ports), (ports, low, high)
    for port in ports:  # each one free to bind now
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
