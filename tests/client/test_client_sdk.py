"""RiskListClient against a real risklist-server: local answers, server answers, errors, async, packaging."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from risklist_client import CheckFailed, RiskListClient
from risklist_kernel.enums import Action, EntityType, RiskLevel
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.secret import NetworkSecret
from tests.client.conftest import ingest_phones
from tests.support.running_server import ServerProcess

PHONE = "+8613800138000"


def test_importing_the_sdk_loads_neither_rocksdb_nor_numpy_nor_the_server() -> None:
    """A bank's process that imports risklist_client pulls in no rocksdict, numpy or server code."""
    code = ("import sys, risklist_client; "
            "print(sorted(m for m in ('rocksdict', 'numpy', 'risklist_server', 'risklist_loader') "
            "if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_misses_are_answered_locally_and_hits_by_the_server(server: ServerProcess, secret: NetworkSecret) -> None:
    """Once the filter is loaded, an unlisted subject never reaches the server; a listed one gets its verdict."""
    ingest_phones(server.admin_address, secret, add=[PHONE])
    with RiskListClient(server.address, secret=secret) as client:
        assert client.wait_for_filter(10)
        hit = client.check("phone", "138 0013 8000")
        assert hit.listed and hit.answered_by == "server" and hit.level == RiskLevel.HIGH
        assert hit.action in (Action.REVIEW, Action.BLOCK)
        misses = [client.check(EntityType.CARD, "4111 1111 1111 1111"), client.check("email", "a@example.com")]
        assert all(not miss.listed and miss.answered_by == "filter" and miss.request_id == "" for miss in misses)
        metrics = client.metrics()
        assert metrics.checks == 3 and metrics.answered_locally == 2 and metrics.server_checks == 1
        assert metrics.fallback_checks == 0 and metrics.listed == 1 and metrics.filter_fresh


def test_check_many_keeps_order_and_sends_only_possible_hits(server: ServerProcess, secret: NetworkSecret) -> None:
    """check_many answers in input order; the filter settles the misses, one batch settles the rest."""
    listed = ["+8613800138001", "+8613800138002"]
    ingest_phones(server.admin_address, secret, add=listed)
    subjects = [("phone", "+8613800138009"), ("phone", listed[0]), ("ip", "10.0.0.1"), ("phone", listed[1])]
    with RiskListClient(server.address, secret=secret) as client:
        assert client.wait_for_filter(10)
        results = client.check_many(subjects)
        assert [result.listed for result in results] == [False, True, False, True]
        assert results[1].answered_by == "server" and results[1].request_id == results[3].request_id
        assert client.metrics().server_checks <= 3


def test_async_variants_answer_like_the_sync_ones(server: ServerProcess, secret: NetworkSecret) -> None:
    """check_async and check_many_async give the answers check and check_many give."""
    ingest_phones(server.admin_address, secret, add=[PHONE])
    with RiskListClient(server.address, secret=secret) as client:
        assert client.wait_for_filter(10)

        async def both() -> tuple[bool, list[bool]]:
            one = await client.check_async("phone", PHONE)
            many = await client.check_many_async([("phone", "+8613800138007"), ("phone", PHONE)])
            return one.listed, [result.listed for result in many]

        assert asyncio.run(both()) == (True, [False, True])


def test_without_prescreen_every_check_goes_to_the_server(server: ServerProcess, secret: NetworkSecret) -> None:
    """prescreen=False keeps no filter: every check is a server check, counted as such."""
    with RiskListClient(server.address, secret=secret, prescreen=False) as client:
        result = client.check("phone", "+8613800138005")
        assert not result.listed and result.answered_by == "server" and result.request_id is not None
        metrics = client.metrics()
        assert metrics.server_checks == metrics.fallback_checks == 1 and not metrics.filter_loaded


def test_invalid_identifiers_are_refused_before_anything_is_sent(server: ServerProcess, secret: NetworkSecret) -> None:
    """A bad identifier raises InvalidIdentifier saying which and why; in check_many, where first."""
    with RiskListClient(server.address, secret=secret, prescreen=False) as client:
        with pytest.raises(InvalidIdentifier, match="card.*Luhn"):
            client.check("card", "4111 1111 1111 1112")
        with pytest.raises(InvalidIdentifier) as caught:
            client.check_many([("phone", PHONE), ("email", "not an address")])
        assert str(caught.value).startswith("subjects[1]: invalid email identifier: "), str(caught.value)
        assert (caught.value.field, caught.value.entity_type) == ("subjects[1]", "email")
        assert "subjects" not in caught.value.reason
        assert client.metrics().server_checks == 0


def test_an_unreachable_server_is_a_check_failed_within_the_deadline(secret: NetworkSecret) -> None:
    """With no server, a check raises CheckFailed(UNAVAILABLE or DEADLINE_EXCEEDED) within about the deadline."""
    with RiskListClient("127.0.0.1:1", secret=secret, deadline=0.5) as client:
        started = time.monotonic()
        with pytest.raises(CheckFailed) as caught:
            client.check("phone", PHONE)
        assert caught.value.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
        assert time.monotonic() - started < 3
        assert client.metrics().check_failures == 1
