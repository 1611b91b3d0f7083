"""Loopback ports for the servers tests and benchmarks start (nats-server, redis-server) on ports they name.

Such a port is picked here, then bound later by another process, and a nats-server killed by a test comes back
on the same port. A port from the kernel's ephemeral range (what a bind to port 0 returns) can be taken in the
meantime by any outgoing connection's local port; one outside it is only ever taken by a pick like this one.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10_000
"""Ports are picked from LOWEST_PORT up, outside the kernel's ephemeral range."""
_PICK_ATTEMPTS = 200


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel picks by itself (a connection's local port, a bind to port 0), first and last."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default
    return low, high


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports free now, outside the kernel's ephemeral range (all bound at once, then
    released).

    A port the kernel hands out itself could be taken between a nats-server's kill and its restart by any
    connection of the suite; one outside its range is only ever taken by a choice like this one.
    """
    low, high = ephemeral_range()
    candidates = [*range(LOWEST_PORT, min(low, 65_536)), *range(max(high + 1, LOWEST_PORT), 65_536)]
    picker = random.SystemRandom()
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(_PICK_ATTEMPTS if candidates else 0):
            if len(ports) == count:
                break
            port = picker.choice(candidates)
            if port in ports:
                continue
            probe = stack.enter_context(socket.socket())
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use: another pick
            ports.append(port)
    if len(ports) == count:
        return ports
    raise RuntimeError(f"no {count} free loopback ports outside the ephemeral range {low}-{high} "
                       f"in {_PICK_ATTEMPTS} tries")
