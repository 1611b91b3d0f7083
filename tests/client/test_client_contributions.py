"""The SDK's whole partner API against a real server over mutual TLS: report, revoke, get_entry, check_keys and
check_stream, each sending digests only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from risklist.v1 import risklist_pb2 as pb

import risklist_client.client
from risklist_client import CheckFailed, Report, SecretMismatch
from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.secret import NetworkSecret
from tests.client.members import member_client, member_network
from tests.support.mtls import DevNetwork
from tests.support.running_server import ServerProcess
from tests.support.waiting import wait_until

PHONE = "+8613800138000"


@pytest.fixture()
def network(tmp_path: Path, secret_file: Path) -> Iterator[tuple[DevNetwork, ServerProcess]]:
    with member_network(tmp_path, secret_file) as running:
        yield running


client_for = member_client


def test_report_get_entry_and_revoke_round_trip(
    network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret
) -> None:
    """A report lists the subject for another bank, get_entry shows both banks' contributions, revoke withdraws."""
    dev, server = network
    with (client_for(dev, server, secret, "bank-a", prescreen=False) as a,
          client_for(dev, server, secret, "bank-b", prescreen=False) as b):
        reported = a.report([Report("phone", "138 0013 8000", "telecom_fraud", "high", reference="case-1")])
        assert reported.added == 1 and reported.unchanged == 0 and len(reported.request_ids) == 1
        again = a.report([Report(EntityType.PHONE, PHONE, Category.TELECOM_FRAUD, RiskLevel.HIGH, "case-1")])
        assert again.added == 0 and again.unchanged == 1 and again.list_version == reported.list_version
        b.report([Report("phone", PHONE, "money_mule", "critical")])
        assert b.check("phone", PHONE).level == RiskLevel.CRITICAL
        entry = a.get_entry("phone", PHONE)
        assert entry.result.listed and entry.result.source_count == 2 and entry.request_id
        own = [item for item in entry.contributions if item.own]
        assert len(entry.contributions) == 2 and len(own) == 1 and own[0].reference == "case-1"
        assert own[0].category == Category.TELECOM_FRAUD and own[0].level == RiskLevel.HIGH
        revoked = b.revoke([("phone", PHONE)])
        assert revoked.removed == 1 and revoked.not_listed == 0 and revoked.list_version > reported.list_version
        assert a.check("phone", PHONE).level == RiskLevel.HIGH
        assert a.revoke([("phone", PHONE)], category="telecom_fraud").removed == 1
        assert not a.get_entry("phone", PHONE).result.listed


class _Recorder(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):  # type: ignore[misc]
    """Every request message the SDK sends, by method."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Message) -> Any:
        self.sent.append((details.method, request))
        return continuation(details, request)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Iterator[Message]) -> Any:
        def recorded() -> Iterator[Message]:
            for request in requests:
                self.sent.append((details.method, request))
                yield request
        return continuation(details, recorded())


def _subjects(message: Message) -> Iterator[pb.Subject]:
    """Every Subject inside `message`, however deep."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        for item in value if field.is_repeated else [value]:
            if isinstance(item, pb.Subject):
                yield item
            else:
                yield from _subjects(item)


def test_no_raw_identifier_reaches_the_server(
    network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Report, revoke, get_entry, check_keys and check_stream send every subject as a digest, never its value."""
    dev, server = network
    recorder = _Recorder()
    opened = risklist_client.client.open_channel
    monkeypatch.setattr(risklist_client.client, "open_channel",
                        lambda *args: grpc.intercept_channel(opened(*args), recorder))
    with client_for(dev, server, secret, "bank-a", prescreen=False) as a:
        a.report([Report("phone", PHONE, "telecom_fraud", "high")])
        a.get_entry("phone", PHONE)
        assert [r.listed for batch in a.check_stream([[("phone", PHONE)]]) for r in batch] == [True]
        a.check_keys([Digester(secret).storage_key(EntityType.PHONE, PHONE)])
        a.revoke([("phone", PHONE)])
    methods = {method.rsplit("/", 1)[1] for method, _ in recorder.sent}
    assert {"Report", "GetEntry", "StreamCheck", "BatchCheck", "Revoke"} <= methods
    subjects = [subject for _, message in recorder.sent for subject in _subjects(message)]
    assert len(subjects) == 5 and all(s.WhichOneof("id") == "digest" and len(s.digest) == 16 for s in subjects)


def test_check_keys_always_asks_the_server(network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret) -> None:
    """check_keys answers storage keys in order from the server, never the filter; a bad key is a ValueError."""
    dev, server = network
    digester = Digester(secret)
    listed = digester.storage_key(EntityType.PHONE, PHONE)
    unlisted = digester.storage_key(EntityType.PHONE, "+8613800138001")
    with client_for(dev, server, secret, "bank-a") as a:
        a.report([Report("phone", PHONE, "telecom_fraud", "high")])
        assert a.wait_for_filter(30)
        answers = a.check_keys([unlisted, listed])
        assert [answer.listed for answer in answers] == [False, True]
        assert all(answer.answered_by == "server" and answer.request_id for answer in answers)
        assert answers[1].subject_key == listed and answers[1].outcome_token
        with pytest.raises(ValueError, match=r"keys\[0\]"):
            a.check_keys([listed[:5]])


def test_check_stream_keeps_batch_order_and_sends_only_possible_hits(
    network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret
) -> None:
    """Batches come back in order; one the filter settles sends nothing; an invalid identifier names its place."""
    dev, server = network
    with client_for(dev, server, secret, "bank-a", update_interval=0.05) as a:
        version = a.report([Report("phone", PHONE, "telecom_fraud", "high")]).list_version
        wait_until(lambda: a.metrics().filter_version >= version, timeout=30, message="the filter with the report")
        batches = [[("phone", "+8613800138005")], [("phone", PHONE), ("email", "a@example.com")],
                   [("ip", "10.1.1.1")]]
        answers = list(a.check_stream(iter(batches), timeout=30))
        assert [[r.listed for r in batch] for batch in answers] == [[False], [True, False], [False]]
        assert answers[0][0].answered_by == "filter" and answers[1][0].answered_by == "server"
        assert a.metrics().server_checks == 1
        with pytest.raises(InvalidIdentifier, match=r"batches\[1\]\.subjects\[0\]"):
            list(a.check_stream([[("phone", PHONE)], [("phone", "not a phone")]]))


def test_refusals_are_typed_errors(network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret) -> None:
    """A member without the contribute role gets CheckFailed PERMISSION_DENIED naming the call; bad input ValueError."""
    dev, server = network
    with client_for(dev, server, secret, "reader", prescreen=False) as reader:
        with pytest.raises(CheckFailed, match="report failed") as caught:
            reader.report([Report("phone", PHONE, "telecom_fraud", "high")])
        assert caught.value.code == "PERMISSION_DENIED"
        with pytest.raises(CheckFailed, match="revoke failed"):
            reader.revoke([("phone", PHONE)])
        with pytest.raises(ValueError, match=r"reports\[0\]: unknown value 'fraud'"):
            reader.report([Report("phone", PHONE, "fraud", "high")])
        with pytest.raises(InvalidIdentifier, match=r"reports\[0\]"):
            reader.report([Report("phone", "12", "telecom_fraud", "high")])


def test_nothing_is_contributed_under_another_networks_secret(
    network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret
) -> None:
    """With a secret other than the server's, report, revoke and get_entry raise SecretMismatch and send nothing."""
    dev, server = network
    wrong = NetworkSecret(bytes(range(32)))
    with client_for(dev, server, wrong, "bank-a", prescreen=False) as a:
        with pytest.raises(SecretMismatch):
            a.report([Report("phone", PHONE, "telecom_fraud", "high")])
        with pytest.raises(SecretMismatch):
            a.revoke([("phone", PHONE)])
        with pytest.raises(SecretMismatch):
            a.get_entry("phone", PHONE)
    with client_for(dev, server, secret, "bank-a", prescreen=False) as right:
        answer = right.check("phone", PHONE)
        assert not answer.listed and answer.list_version == 0  # nothing was written: the list is at version 0
