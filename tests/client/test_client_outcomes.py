"""RiskListClient.report_outcome against a real risklist-server: a hit's result carries what the outcome needs."""

from __future__ import annotations

import dataclasses

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_client import CheckFailed, RiskListClient
from risklist_kernel.enums import Outcome
from risklist_kernel.secret import NetworkSecret
from tests.client.conftest import ingest_phones
from tests.support.running_server import ServerProcess

LISTED = ["+8613800138000", "+8613800138001", "+8613800138002"]


def _verified(server: ServerProcess) -> tuple[int, int]:
    with grpc.insecure_channel(server.admin_address) as channel:
        rows = pb_grpc.AdminStub(channel).GetQuality(pb.GetQualityRequest(), timeout=30).sources
    row = {row.source: row for row in rows}["bank-a"]
    return row.confirmed_fraud, row.false_positive


def test_hits_from_check_check_many_and_the_cache_can_be_reported(server: ServerProcess, secret: NetworkSecret) -> None:
    """A listed result (check, check_many, or the positive cache) carries request_id, outcome_token, its subject and
    the deciding policy's version; report_outcome sends them and the server counts the outcome for the listing bank."""
    ingest_phones(server.admin_address, secret, add=LISTED)
    with RiskListClient(server.address, secret=secret) as client:
        assert client.wait_for_filter(10)
        single = client.check("phone", LISTED[0])
        many = client.check_many([("phone", "+8613900000009"), ("phone", LISTED[1])])
        cached = client.check("phone", LISTED[0])
        assert single.answered_by == "server" and cached.answered_by == "cache"
        assert len(single.outcome_token) == 16 and len(single.request_id) == 24 and len(single.subject_key) == 17
        assert not many[0].listed and many[0].outcome_token == b""
        assert single.policy_version == cached.policy_version == many[1].policy_version == "built-in"
        assert many[0].policy_version == ""  # not listed: no policy decided
        assert client.report_outcome(single, Outcome.CONFIRMED_FRAUD) == 1
        assert client.report_outcome(many[1], "false_positive") == 1
        assert client.report_outcome(cached, "confirmed_fraud") == 1  # a revision of the first: counted once
    assert _verified(server) == (1, 1)


def test_what_cannot_be_reported_says_why(server: ServerProcess, secret: NetworkSecret) -> None:
    """A miss is a ValueError before anything is sent; a result whose token was tampered with is refused by the
    server (CheckFailed, FAILED_PRECONDITION) and counts nothing."""
    ingest_phones(server.admin_address, secret, add=LISTED[2:])
    with RiskListClient(server.address, secret=secret, prescreen=False) as client:
        miss = client.check("phone", "+8613900000009")
        with pytest.raises(ValueError, match="only a listed answer"):
            client.report_outcome(miss, Outcome.FALSE_POSITIVE)
        hit = client.check("phone", LISTED[2])
        with pytest.raises(CheckFailed) as refused:
            client.report_outcome(dataclasses.replace(hit, outcome_token=bytes(16)), Outcome.FALSE_POSITIVE)
        with pytest.raises(ValueError, match="expected one of confirmed_fraud"):
            client.report_outcome(hit, "fraud")
    assert refused.value.code == "FAILED_PRECONDITION"
    assert str(refused.value).startswith("outcome report failed (FAILED_PRECONDITION): hit_token")
    assert _verified(server) == (0, 0)
