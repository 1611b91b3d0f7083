"""The TCP connections a process holds on one local port, as the kernel lists them in /proc."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

TCP_STATES = {"01": "established", "02": "syn_sent", "03": "syn_recv", "04": "fin_wait1", "05": "fin_wait2",
              "06": "time_wait", "07": "close", "08": "close_wait", "09": "last_ack", "0A": "listen",
              "0B": "closing"}
"""/proc/net/tcp's `st` column (include/net/tcp_states.h)."""

Address = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]
"""An endpoint: IP (an IPv4-mapped IPv6 address as IPv4) and port."""


@dataclass(frozen=True, slots=True)
class PortSocket:
    """One socket of the process on the port."""

    fd: int
    inode: int
    state: str
    """A TCP_STATES name ("listen" for the listening socket)."""
    remote: Address
    queue: int
    """rx_queue: for the listening socket, connections accepted by the kernel and not yet by the server."""


def port_socket_list(pid: int | str, port: int) -> list[PortSocket] | None:
    """The sockets process `pid` ("self" for this one) holds on local TCP `port` (None: the process is gone).

    A connection belongs to the process that holds its descriptor (/proc/PID/fd links
    `socket:[INODE]`); /proc/PID/net/tcp and tcp6 give each inode's ports, peer and state.
    """
    try:
        fds: dict[int, int] = {}
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                fds[int(target[8:-1])] = int(name)
        tables = []
        for table in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{pid}/net/{table}") as file:
                    tables.append(file.read())
            except FileNotFoundError:
                continue  # no IPv6 in this kernel
    except (FileNotFoundError, ProcessLookupError):
        return None
    suffix = f":{port:04X}"
    found = []
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or not fields[1].endswith(suffix):
                continue
            fd = fds.get(int(fields[9]))
            if fd is None:
                continue
            found.append(PortSocket(fd, int(fields[9]), TCP_STATES.get(fields[3], fields[3]), parse_address(fields[2]),
                                    int(fields[4].split(":")[1], 16)))
    return found


def parse_address(text: str) -> Address:
    """/proc/net/tcp's `HEXIP:HEXPORT` (the IP in the kernel's 32-bit little-endian words) as an Address."""
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    packed = b"".join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4))
    address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address, int(port, 16)


def parse_grpc_peer(peer: str) -> Address | None:
    """grpc's `context.peer()` ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", URL-escaped or not) as an Address."""
    from urllib.parse import unquote

    kind, _, rest = unquote(peer).partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host, _, port = rest.rpartition(":")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host.strip("[]"))
        number = int(port)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address, number
