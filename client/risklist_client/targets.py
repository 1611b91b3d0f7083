"""Where a client connects: one address as given, or the nodes of a cluster as one grpc target that fails over.

grpc resolves the target itself: `ipv4:`/`ipv6:` for a list of addresses, `dns:` for one name with a record
per node. A list of host names has no grpc resolver, so it is refused with what to write instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from risklist_client.errors import InvalidTarget

TargetLike = str | Sequence[str]
"""One address ("host:port", or any grpc target), several ("10.0.0.1:50051,10.0.0.2:50051" or a sequence of
"host:port" strings with IP addresses), or one DNS name resolving to every node ("dns:///risk.example:50051")."""

LIST_SCHEMES = ("ipv4:", "ipv6:")
"""grpc's own URIs for a list of addresses, accepted as written and checked like a list."""

EXAMPLE = "write ['10.0.0.1:50051', '10.0.0.2:50051'], or one DNS name with a record per node: " \
          "'dns:///risk.example:50051'"


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    """What the channel is opened to: grpc's target, whether it spreads over several nodes, and their names.

    `failover`: round_robin over the nodes whose health says SERVING (several addresses, or a dns: name);
    False: the single address as before (grpc's default pick_first, no health checking). `authority`: the
    name the servers' certificate is checked against, when grpc's own choice would not do (None: grpc's).
    """

    uri: str
    failover: bool
    authority: str | None
    addresses: tuple[str, ...]

    def describe(self) -> str:
        """The addresses for a message: "127.0.0.1:50051", or "one of 10.0.0.1:50051, 10.0.0.2:50051"."""
        if len(self.addresses) == 1:
            return self.addresses[0]
        return "one of " + ", ".join(self.addresses)


def parse_target(target: TargetLike, *, server_name: str | None = None) -> ChannelTarget:
    """The ChannelTarget for `target` (see TargetLike); InvalidTarget naming the address at fault and why.

    `server_name`: the name every node's certificate carries (checked by TLS); by default grpc's for one
    address or a dns: name, and the first address for a list (so the shared certificate must name it).
    """
    if server_name is not None and (not server_name or any(c.isspace() or c in ",/" for c in server_name)):
        raise InvalidTarget(f"server_name {server_name!r} is not a host name: give the name the servers' "
                            "certificate carries, such as 'risk.example' or '10.0.0.1'")
    if isinstance(target, str):
        return _from_string(target, server_name)
    if not isinstance(target, Sequence):
        raise InvalidTarget(f"target {target!r}: give an address 'host:port', a list of them, or 'dns:///name:port'")
    addresses = list(target)
    if not addresses:
        raise InvalidTarget(f"target is an empty list: give at least one address; {EXAMPLE}")
    for index, address in enumerate(addresses):
        if not isinstance(address, str):
            raise InvalidTarget(f"target[{index}] {address!r} is not a string: give 'host:port'")
    if len(addresses) == 1:
        if "," in addresses[0]:
            raise InvalidTarget(f"target[0] {addresses[0]!r} holds several addresses: list each on its own")
        return _from_string(addresses[0], server_name)
    return _address_list(addresses, [f"target[{index}]" for index in range(len(addresses))], server_name)


def _from_string(target: str, server_name: str | None) -> ChannelTarget:
    if "," in target and not target.startswith("dns:"):
        scheme = next((prefix for prefix in LIST_SCHEMES if target.startswith(prefix)), "")
        parts = target[len(scheme):].split(",")
        return _address_list(parts, [f"target address {index + 1}" for index in range(len(parts))], server_name,
                             scheme=scheme)
    if not target or any(c.isspace() for c in target):
        raise InvalidTarget(f"target {target!r} is empty or holds spaces: give 'host:port', such as '10.0.0.1:50051'")
    if target.startswith("dns:"):
        return _dns(target, server_name)
    # One address: exactly what grpc was always given (any target it takes: host:port, unix:, ipv4:...).
    return ChannelTarget(target, failover=False, authority=server_name, addresses=(target,))


def _dns(target: str, server_name: str | None) -> ChannelTarget:
    """dns:[//resolver/]host:port — grpc resolves every A/AAAA record of `host` and re-resolves when nodes go."""
    rest = target[len("dns:"):]
    if rest.startswith("//"):
        _, slash, rest = rest[2:].partition("/")
        if not slash:
            raise InvalidTarget(f"target {target!r}: write dns:///NAME:PORT (three slashes), such as "
                                "'dns:///risk.example:50051'")
    if "," in rest:
        raise InvalidTarget(f"target {target!r}: a dns: target names one host (with a record per node); for several "
                            "addresses list them without dns:, as '10.0.0.1:50051,10.0.0.2:50051'")
    host, _ = _split(rest, f"target {target!r}", allow_names=True)
    if not host:
        raise InvalidTarget(f"target {target!r} names no host: write 'dns:///risk.example:50051'")
    return ChannelTarget(target, failover=True, authority=server_name, addresses=(target,))


def _address_list(parts: list[str], where: list[str], server_name: str | None, *, scheme: str = "") -> ChannelTarget:
    """Several IP addresses as grpc's ipv4:/ipv6: URI (every address of one family, each once)."""
    families: set[int] = set()
    seen: dict[str, str] = {}
    canonical: list[str] = []
    for part, place in zip(parts, where, strict=True):
        address = part.strip()
        label = f"{place} {address!r}"
        if not address:
            raise InvalidTarget(f"{place} is empty (two commas in a row, or one at the end): {EXAMPLE}")
        if address.startswith(("dns:", *LIST_SCHEMES)) or "/" in address:
            raise InvalidTarget(f"{label}: a list takes plain 'IP:port' addresses, not URIs; {EXAMPLE}")
        host, port = _split(address, label, allow_names=False)
        ip = ipaddress.ip_address(host)
        families.add(ip.version)
        written = f"{ip}:{port}" if ip.version == 4 else f"[{ip}]:{port}"
        if written in seen:
            raise InvalidTarget(f"{label} is listed twice ({seen[written]} is the same node): list each node once")
        seen[written] = place
        canonical.append(written)
    if len(families) > 1:
        raise InvalidTarget("the target mixes IPv4 and IPv6 addresses, which grpc takes as one list only of one "
                            "family: list the nodes' addresses of one family, or give one DNS name with a record per "
                            "node, 'dns:///risk.example:50051'")
    family = families.pop()
    if scheme and scheme != f"ipv{family}:":
        raise InvalidTarget(f"target {scheme}... lists IPv{family} addresses: write ipv{family}: or leave the "
                            "scheme out")
    uri = f"ipv{family}:" + ",".join(canonical)
    return ChannelTarget(uri, failover=True, authority=server_name or canonical[0], addresses=tuple(canonical))


def _split(address: str, label: str, *, allow_names: bool) -> tuple[str, int]:
    """(host, port) of "host:port" or "[v6]:port"; with `allow_names` False, host must be an IP address."""
    if address.startswith("["):
        host, bracket, rest = address[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise InvalidTarget(f"{label}: write an IPv6 address as '[2001:db8::1]:50051'")
        port_text = rest[1:]
        _ip(host, label, version=6)
    else:
        host, colon, port_text = address.rpartition(":")
        if not colon or not host:
            raise InvalidTarget(f"{label} has no port: write HOST:PORT, such as "
                                f"'{'dns:///risk.example' if allow_names else '10.0.0.1'}:50051' (risklist has no "
                                "default port)")
        if ":" in host:
            raise InvalidTarget(f"{label}: write an IPv6 address in brackets, as '[{host}]:{port_text}'")
        if not allow_names:
            _ip(host, label, version=4)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidTarget(f"{label}: port {port_text!r} is not a number from 1 to 65535")
    return host, int(port_text)


def _ip(host: str, label: str, *, version: int) -> None:
    """InvalidTarget unless `host` is an IP address of `version`, saying what to write for a host name."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidTarget(
            f"{label}: {host!r} is not an IP address; a list of nodes takes IP addresses (grpc resolves no list "
            "of host names): list the nodes' IP addresses, or give one DNS name with a record per node, such as "
            "'dns:///risk.example:50051'") from None
    if ip.version != version:
        raise InvalidTarget(f"{label}: {host!r} is not an IPv{version} address")
