"""The SDK with the wrong network secret against a real server over mutual TLS: it fails closed, never "not listed"."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from risklist_client import CheckFailed, RiskListClient, SecretMismatch
from risklist_kernel.secret import NetworkSecret, write_secret
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.mtls import DevNetwork, dev_network
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

PARTNERS = """
[partners.bank-a]
roles = ["query"]

[partners.operator]
roles = ["admin"]
"""
UNLISTED = "+8613800138999"


@pytest.fixture()
def network(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> Iterator[tuple[DevNetwork, ServerProcess]]:
    dev = dev_network(tmp_path, PARTNERS)
    running = start_server(tmp_path / "db", secret_file, tls=dev.server_tls)
    ingest_phone(running.admin_address, secret, tls=dev.client("operator"))
    yield dev, running
    running.terminate()


def _client(dev: DevNetwork, server: ServerProcess, secret: NetworkSecret, *, prescreen: bool) -> RiskListClient:
    tls = dev.client("bank-a")
    credentials = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
    return RiskListClient(server.address, credentials, secret=secret, prescreen=prescreen, update_interval=0.05,
                          max_backoff=0.2)


@pytest.mark.parametrize("prescreen", [True, False])
def test_a_wrong_secret_makes_every_check_raise_never_not_listed(
    network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret, prescreen: bool
) -> None:
    """With another network's secret, check, check_many and their async forms raise SecretMismatch (a CheckFailed)."""
    dev, server = network
    wrong = NetworkSecret(secrets.token_bytes(32))
    with _client(dev, server, wrong, prescreen=prescreen) as client:
        for value in (PHONE, UNLISTED, PHONE):
            with pytest.raises(SecretMismatch) as caught:
                client.check("phone", value)
            assert caught.value.code == "FAILED_PRECONDITION" and isinstance(caught.value, CheckFailed)
            assert wrong.fingerprint in str(caught.value) and secret.fingerprint in str(caught.value)
        with pytest.raises(SecretMismatch):
            client.check_many([("phone", UNLISTED), ("phone", PHONE)])
        with pytest.raises(SecretMismatch):
            asyncio.run(client.check_async("phone", UNLISTED))
        with pytest.raises(SecretMismatch):
            asyncio.run(client.check_many_async([("phone", UNLISTED)]))
        if prescreen:  # the refresh thread keeps trying, and never loads a filter to answer from
            wait_until(lambda: client.metrics().refresh_failures >= 3, timeout=10)
            assert not client.metrics().filter_loaded
            with pytest.raises(SecretMismatch):
                client.check("phone", UNLISTED)
        metrics = client.metrics()
        assert not metrics.secret_verified and metrics.secret_mismatches >= 1 and metrics.answered_locally == 0


@pytest.mark.parametrize("prescreen", [True, False])
def test_the_right_secret_is_verified_once_and_answers(
    network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret, prescreen: bool
) -> None:
    """With the network's own secret the fingerprints match: listed and unlisted subjects get their answers."""
    dev, server = network
    with _client(dev, server, secret, prescreen=prescreen) as client:
        assert client.check("phone", PHONE).listed
        assert not client.check("phone", UNLISTED).listed
        assert client.metrics().secret_verified and client.metrics().secret_mismatches == 0


def test_a_server_restarted_with_another_secret_is_caught_after_the_reconnect(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """The server comes back on its port under another secret: the client asks again and refuses to answer."""
    dev = dev_network(tmp_path, PARTNERS)
    server = start_server(tmp_path / "db", secret_file, tls=dev.server_tls)
    port = server.port
    with _client(dev, server, secret, prescreen=False) as client:
        # Verified before it answered; the flag itself may already be down again: the channel reports its
        # first CONNECTING late, and any state but READY makes the client ask again (never too rarely).
        assert not client.check("phone", UNLISTED).listed and client.metrics().secret_mismatches == 0
        server.terminate()
        wait_until(lambda: not client.metrics().secret_verified, timeout=10)
        other = tmp_path / "other.secret"
        write_secret(other, NetworkSecret(secrets.token_bytes(32)))
        server = start_server(tmp_path / "other-db", other, "--listen", f"127.0.0.1:{port}", tls=dev.server_tls)
        outcomes: list[str] = []

        def settled() -> bool:  # until the channel has reconnected, a check may fail UNAVAILABLE
            try:
                client.check("phone", UNLISTED)
                outcomes.append("answered")
            except SecretMismatch:
                outcomes.append("mismatch")
            except CheckFailed:
                outcomes.append("failed")
            return outcomes[-1] != "failed"

        try:
            wait_until(settled, timeout=15)
            assert outcomes[-1] == "mismatch" and "answered" not in outcomes
        finally:
            server.terminate()
