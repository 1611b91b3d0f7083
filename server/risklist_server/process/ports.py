"""Holding the partner port for a group of workers that share it with SO_REUSEPORT."""

from __future__ import annotations

import socket

from risklist_kernel.errors import RiskListError


class PortError(RiskListError):
    """The listen address is malformed, in use, or not available."""


def split_address(address: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' as (host, port)."""
    host, separator, port_text = address.rpartition(":")
    if not separator or not port_text.isdigit() or not host:
        raise PortError(f"cannot listen on {address!r}: expected HOST:PORT, e.g. 127.0.0.1:50051")
    port = int(port_text)
    if port > 65535:
        raise PortError(f"cannot listen on {address!r}: port {port} is out of range (0-65535)")
    return host.removeprefix("[").removesuffix("]"), port


def with_port(address: str, port: int) -> str:
    """`address` with its port replaced (a port-0 address made concrete)."""
    host, _ = split_address(address)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def reserve_shared_port(address: str) -> tuple[socket.socket, str]:
    """Bind (not listen) a SO_REUSEPORT socket at `address`; return it and the concrete 'host:port'.

    Held by the supervisor for its lifetime, it keeps the port for the workers (who bind it
    with SO_REUSEPORT too, and may restart) and away from anyone else. A fixed port is first
    probed without SO_REUSEPORT, so a port some other server holds — even another group of
    risklist workers — is refused instead of silently shared.
    """
    host, port = split_address(address)
    family = _family(host)
    if port != 0:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc does: TIME_WAIT is no owner
            try:
                probe.bind((host, port))
            except OSError as error:
                raise PortError(f"cannot listen on {address}: {error.strerror}; "
                                "is another server running there?") from None
    holder = socket.socket(family, socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host, port))
    except OSError as error:
        holder.close()
        raise PortError(f"cannot listen on {address}: {error.strerror}") from None
    bound_port = holder.getsockname()[1]
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    return holder, f"{shown_host}:{bound_port}"
