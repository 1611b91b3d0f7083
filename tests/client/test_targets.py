"""Client addresses (risklist_client.targets) and the channel they open (risklist_client.channel), without a network:
one address stays as it always was, several become one grpc target that fails over, and a bad one is one clear error."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risklist_client.channel import FAILOVER_SERVICE_CONFIG, RETRY_SERVICE_CONFIG, channel_options, service_config
from risklist_client.errors import InvalidTarget
from risklist_client.targets import ChannelTarget, parse_target

PORTS = st.integers(min_value=1, max_value=65535)
IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.ip_addresses(v=6).map(str)


def _options(target: ChannelTarget) -> dict[str, object]:
    return dict(channel_options(target))


@pytest.mark.parametrize("address", ["127.0.0.1:50051", "risk.bank.example:50051", "localhost:50051",
                                     "unix:/run/risklist.sock", "ipv4:10.0.0.1:50051", "[::1]:50051"])
def test_one_address_opens_the_channel_it_always_did(address: str) -> None:
    """A single address is handed to grpc unchanged, with the retry policy alone (no load balancing, no health)."""
    for target in (address, [address]):
        parsed = parse_target(target)
        assert (parsed.uri, parsed.failover, parsed.authority) == (address, False, None)
        options = _options(parsed)
        assert json.loads(str(options["grpc.service_config"])) == RETRY_SERVICE_CONFIG
        assert "grpc.default_authority" not in options


@given(st.lists(st.tuples(IPV4, PORTS), min_size=2, max_size=5, unique=True),
       st.sampled_from(["list", "commas", "commas and spaces", "uri"]))
def test_several_ipv4_addresses_become_one_round_robin_target(nodes: list[tuple[str, int]], form: str) -> None:
    """However several IPv4 nodes are written, grpc gets them all in order as ipv4:, balanced over healthy nodes,
    with the certificate checked against the first."""
    written = [f"{host}:{port}" for host, port in nodes]
    target: str | list[str] = {"list": written, "commas": ",".join(written),
                               "commas and spaces": ", ".join(written), "uri": "ipv4:" + ",".join(written)}[form]
    parsed = parse_target(target)
    assert parsed.uri == "ipv4:" + ",".join(written)
    assert parsed.failover and parsed.addresses == tuple(written)
    assert parsed.authority == written[0]
    assert _options(parsed)["grpc.default_authority"] == written[0]


@given(st.lists(st.tuples(IPV6, PORTS), min_size=2, max_size=5, unique=True))
def test_several_ipv6_addresses_become_one_ipv6_target(nodes: list[tuple[str, int]]) -> None:
    """IPv6 nodes, in brackets, become grpc's ipv6: list in their compressed form."""
    parsed = parse_target([f"[{host}]:{port}" for host, port in nodes])
    expected = [f"[{ipaddress.ip_address(host)}]:{port}" for host, port in nodes]
    assert parsed.uri == "ipv6:" + ",".join(expected) and parsed.failover


@pytest.mark.parametrize("target", ["dns:///risk.bank.example:50051", "dns://10.0.0.53/risk.bank.example:50051",
                                    "dns:risk.bank.example:50051"])
def test_a_dns_name_fails_over_between_its_records(target: str) -> None:
    """A dns: name is grpc's DNS resolver (every A/AAAA record a node), balanced over healthy nodes; a TXT record
    cannot replace the service config, and the certificate is checked against the name as grpc does."""
    parsed = parse_target(target)
    assert (parsed.uri, parsed.failover, parsed.authority) == (target, True, None)
    assert _options(parsed)["grpc.service_config_disable_resolution"] == 1


def test_failover_is_round_robin_over_healthy_nodes_with_the_same_retries() -> None:
    """Several nodes: round_robin, health checked for risklist.v1.RiskList, UNAVAILABLE retried as before, and a
    call waits (within its deadline) for a serving node rather than fail while none serves."""
    parsed = parse_target(["10.0.0.1:50051", "10.0.0.2:50051"])
    config = json.loads(str(_options(parsed)["grpc.service_config"]))
    assert config == service_config(parsed) == FAILOVER_SERVICE_CONFIG
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert config["healthCheckConfig"] == {"serviceName": "risklist.v1.RiskList"}
    retried = RETRY_SERVICE_CONFIG["methodConfig"]
    assert config["methodConfig"] == [{**method, "waitForReady": True} for method in retried]


def test_server_name_is_what_the_certificate_is_checked_against() -> None:
    """server_name replaces the default name the nodes' shared certificate is checked against, for any form."""
    for target in (["10.0.0.1:50051", "10.0.0.2:50051"], "10.0.0.1:50051", "dns:///risk.bank.example:50051"):
        assert _options(parse_target(target, server_name="risk.bank.example"))["grpc.default_authority"] \
            == "risk.bank.example"


@pytest.mark.parametrize(("target", "message"), [
    ([], "target is an empty list"),
    ("", "target '' is empty or holds spaces"),
    (["node-a.bank.example:50051", "node-b.bank.example:50051"],
     "target[0] 'node-a.bank.example:50051': 'node-a.bank.example' is not an IP address; a list of nodes takes IP "
     "addresses (grpc resolves no list of host names): list the nodes' IP addresses, or give one DNS name with a "
     "record per node, such as 'dns:///risk.example:50051'"),
    ("10.0.0.1:50051,10.0.0.2", "target address 2 '10.0.0.2' has no port: write HOST:PORT"),
    ("10.0.0.1:50051,,10.0.0.2:50051", "target address 2 is empty"),
    (["10.0.0.1:50051", "10.0.0.1:50051"], "target[1] '10.0.0.1:50051' is listed twice (target[0] is the same node)"),
    (["10.0.0.1:50051", "10.0.0.2:70000"], "target[1] '10.0.0.2:70000': port '70000' is not a number from 1 to 65535"),
    (["10.0.0.1:50051", "[::1]:50051"], "the target mixes IPv4 and IPv6 addresses"),
    (["10.0.0.1:50051", "::1:50051"], "target[1] '::1:50051': write an IPv6 address in brackets, as '[::1]:50051'"),
    (["dns:///risk.example:50051", "10.0.0.1:50051"], "target[0] 'dns:///risk.example:50051': a list takes plain"),
    (["10.0.0.1:50051,10.0.0.2:50051"], "target[0] '10.0.0.1:50051,10.0.0.2:50051' holds several addresses"),
    ("ipv6:10.0.0.1:50051,10.0.0.2:50051", "target ipv6:... lists IPv4 addresses: write ipv4:"),
    ("dns:///risk.bank.example", "has no port: write HOST:PORT, such as 'dns:///risk.example:50051'"),
    ("dns://risk.bank.example:50051", "write dns:///NAME:PORT (three slashes)"),
    ("dns:///a.example:50051,b.example:50051", "a dns: target names one host"),
    ([10, 11], "target[0] 10 is not a string"),
])
def test_an_unusable_address_is_one_clear_error(target: object, message: str) -> None:
    """The error names the address at fault (its place in the list), says why, and what to write instead."""
    with pytest.raises(InvalidTarget) as raised:
        parse_target(target)  # type: ignore[arg-type]
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


@given(st.text(max_size=40))
def test_any_text_is_a_target_or_an_invalid_target(text: str) -> None:
    """No input makes the parser fail another way than InvalidTarget (grpc is never handed a list it would garble)."""
    try:
        parsed = parse_target(text)
    except InvalidTarget:
        return
    assert parsed.uri
    assert parsed.failover == ("," in text or text.startswith("dns:"))
