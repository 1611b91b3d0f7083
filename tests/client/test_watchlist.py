"""Watchlist against real servers: LISTED, CHANGED, CLEARED from other members' reports, restarts, resets, privacy."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from risklist_client import Report, RiskListClient
from risklist_client.alerts import Alert, AlertKind
from risklist_client.watchlist import Watchlist
from risklist_kernel.enums import Action, RiskLevel
from risklist_kernel.secret import NetworkSecret
from tests.client.conftest import ingest_phones
from tests.client.members import member_client, member_network
from tests.support.mtls import DevNetwork
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

CUSTOMER = "+8613800138000"
OTHER = "+8613900139000"


@pytest.fixture()
def network(tmp_path: Path, secret_file: Path) -> Iterator[tuple[DevNetwork, ServerProcess]]:
    with member_network(tmp_path, secret_file) as running:
        yield running


class Inbox:
    """Alerts a callback received, in order."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def __call__(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def kinds(self) -> list[tuple[AlertKind, str]]:
        return [(alert.kind, alert.label) for alert in self.alerts]


def test_another_members_report_alerts_within_five_seconds_then_changes_and_clears(
    network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret, tmp_path: Path
) -> None:
    """At the default update interval: bank-b's Report of bank-a's customer alerts LISTED within 5 s, with the
    verdict, action, reason, version and the confirming request id; a level change alerts CHANGED; Revoke CLEARED."""
    dev, server = network
    inbox = Inbox()
    with (member_client(dev, server, secret, "bank-a") as bank_a,
          member_client(dev, server, secret, "bank-b", prescreen=False) as bank_b):
        assert bank_a.wait_for_filter(30)
        with Watchlist(bank_a, tmp_path / "watch.sqlite", on_alert=inbox) as watch:
            watch.add([("phone", "138 0013 8000", "customer-17"), ("phone", OTHER, "customer-18")])
            wait_until(watch.idle, timeout=30, message="the first screen")
            assert inbox.alerts == []
            reported = bank_b.report([Report("phone", CUSTOMER, "money_mule", "medium")])
            started = time.monotonic()
            wait_until(lambda: inbox.alerts, timeout=5, message="a LISTED alert")
            assert time.monotonic() - started <= 5
            listed = inbox.alerts[0]
            assert (listed.kind, listed.label) == (AlertKind.LISTED, "customer-17")
            assert listed.result.listed and listed.result.level == RiskLevel.MEDIUM
            assert listed.result.action in (Action.REVIEW, Action.BLOCK) and listed.result.reason_code
            assert listed.list_version >= reported.list_version and len(listed.request_id) == 24
            assert listed.result.outcome_token and listed.result.subject_key == listed.subject_key
            bank_b.report([Report("phone", CUSTOMER, "money_mule", "critical")])
            wait_until(lambda: len(inbox.alerts) == 2, timeout=10, message="a CHANGED alert")
            changed = inbox.alerts[1]
            assert changed.kind is AlertKind.CHANGED and changed.result.level == RiskLevel.CRITICAL
            assert changed.previous is not None and changed.previous.level == int(RiskLevel.MEDIUM)
            assert bank_a.report_outcome(changed.result, "confirmed_fraud") == 1  # the alert's proof of the hit
            bank_b.revoke([("phone", CUSTOMER)])
            wait_until(lambda: len(inbox.alerts) == 3, timeout=10, message="a CLEARED alert")
            cleared = inbox.alerts[2]
            assert cleared.kind is AlertKind.CLEARED and not cleared.result.listed and cleared.request_id
            assert [alert.alert_id for alert in inbox.alerts] == sorted({alert.alert_id for alert in inbox.alerts})
            wait_until(watch.idle, timeout=10)
        assert inbox.kinds() == [(AlertKind.LISTED, "customer-17"), (AlertKind.CHANGED, "customer-17"),
                                 (AlertKind.CLEARED, "customer-17")]


def test_restart_catches_up_from_its_version_without_repeating(
    tmp_path: Path, server: ServerProcess, secret: NetworkSecret
) -> None:
    """A watchlist closed, then reopened after other changes, alerts only those changes; alerted ones never again."""
    state = tmp_path / "watch.sqlite"
    first, second = Inbox(), Inbox()
    ingest_phones(server.admin_address, secret, add=[CUSTOMER])
    with (RiskListClient(server.address, secret=secret, update_interval=0.05) as client,
          Watchlist(client, state, on_alert=first) as watch):
        watch.add([("phone", CUSTOMER, "a"), ("phone", OTHER, "b")])
        wait_until(lambda: watch.idle() and first.alerts, timeout=30)
        version = watch.version
    assert first.kinds() == [(AlertKind.LISTED, "a")]
    ingest_phones(server.admin_address, secret, add=[OTHER])
    with (RiskListClient(server.address, secret=secret, update_interval=0.05) as client,
          Watchlist(client, state, on_alert=second) as watch):
        wait_until(lambda: watch.idle() and second.alerts, timeout=30)
        assert watch.version is not None and version is not None and watch.version > version
    assert second.kinds() == [(AlertKind.LISTED, "b")]
    assert second.alerts[0].alert_id > first.alerts[0].alert_id


def test_a_restart_that_reaches_another_store_re_screens_instead_of_catching_up(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """Reopened against another store (its list further along), catching up from the version processed would
    miss what that store listed before it: the watchlist sees the other list and re-screens, and alerts."""
    state = tmp_path / "watch.sqlite"
    first = start_server(tmp_path / "first", secret_file)
    port = first.port
    try:
        for number in range(3):
            ingest_phones(first.admin_address, secret, add=[f"+861370000000{number}"])
        with (RiskListClient(first.address, secret=secret, update_interval=0.05) as client,
              Watchlist(client, state, on_alert=Inbox()) as watch):
            watch.add([("phone", CUSTOMER, "a")])
            wait_until(lambda: watch.idle() and watch.version == 3, timeout=30)
    finally:
        first.terminate()
    second = start_server(tmp_path / "second", secret_file, "--listen", f"127.0.0.1:{port}")
    inbox = Inbox()
    try:
        assert ingest_phones(second.admin_address, secret, add=[CUSTOMER]) == 1  # before the version processed
        for number in range(5):
            ingest_phones(second.admin_address, secret, add=[f"+861360000000{number}"])
        with (RiskListClient(second.address, secret=secret, update_interval=0.05) as client,
              Watchlist(client, state, on_alert=inbox) as watch):
            wait_until(lambda: watch.idle() and inbox.alerts, timeout=30, message="the customer's LISTED alert")
    finally:
        second.terminate()
    assert inbox.kinds() == [(AlertKind.LISTED, "a")]


def test_a_key_an_update_names_twice_alerts_once(tmp_path: Path, server: ServerProcess, secret: NetworkSecret) -> None:
    """An update that names a key as unlisted and as listed again (two writes in its range) raises one alert."""
    inbox = Inbox()
    # No update of its own for an hour: the one below is the only one the watchlist sees.
    with (RiskListClient(server.address, secret=secret, update_interval=3600, max_staleness=3600) as client,
          Watchlist(client, tmp_path / "watch.sqlite", on_alert=inbox) as watch):
        assert client.wait_for_filter(30)
        watch.add([("phone", CUSTOMER, "c")])
        wait_until(watch.idle, timeout=30)
        version = ingest_phones(server.admin_address, secret, add=[CUSTOMER])
        key = client.storage_key("phone", CUSTOMER)
        watch.filter_updated(version, key, key)
        wait_until(lambda: watch.idle() and (watch.version or 0) >= version and inbox.alerts, timeout=30)
    assert inbox.kinds() == [(AlertKind.LISTED, "c")]


def test_a_filter_reset_re_screens_and_alerts_only_real_changes(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """Removals past filter_max_removed force a reset: the watchlist re-screens, a subject still listed does not
    alert again, one unlisted meanwhile alerts CLEARED, and unlisted watched subjects raise nothing."""
    config = tmp_path / "network.toml"
    config.write_text("filter_max_removed = 2\n")
    server = start_server(tmp_path / "db", secret_file, "--config", str(config))
    fillers = [f"+86139001390{n:02d}" for n in range(10)]
    inbox = Inbox()
    try:
        ingest_phones(server.admin_address, secret, add=[CUSTOMER, OTHER, *fillers])
        with RiskListClient(server.address, secret=secret, update_interval=0.05) as client:
            assert client.wait_for_filter(30)
            with Watchlist(client, tmp_path / "watch.sqlite", on_alert=inbox) as watch:
                watched = [("phone", CUSTOMER, "stays"), ("phone", OTHER, "goes")]
                watched += [("phone", f"+861370013{n:04d}", f"clean-{n}") for n in range(200)]
                watch.add(watched)
                wait_until(lambda: watch.idle() and len(inbox.alerts) == 2, timeout=30)
                resets = client.metrics().filter_resets
                ingest_phones(server.admin_address, secret, remove=[OTHER, *fillers])
                wait_until(lambda: client.metrics().filter_resets > resets, timeout=30, message="a filter reset")
                wait_until(lambda: watch.idle() and len(inbox.alerts) == 3, timeout=30)
                wait_until(lambda: watch.version is not None and watch.version >= client.metrics().filter_version,
                           timeout=30)
        assert sorted(inbox.kinds()) == sorted([(AlertKind.LISTED, "stays"), (AlertKind.LISTED, "goes"),
                                                (AlertKind.CLEARED, "goes")])
    finally:
        server.terminate()


def test_watching_100k_unlisted_subjects_sends_the_server_only_filter_calls(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """100k watched subjects, none listed, across a download and updates: the server's metrics show GetFilter,
    GetFilterUpdates and GetNetworkInfo calls (the secret check) and not one subject looked up."""
    server = start_server(tmp_path / "db", secret_file, "--metrics-listen", "127.0.0.1:0")
    try:
        ingest_phones(server.admin_address, secret, add=[CUSTOMER])
        with RiskListClient(server.address, secret=secret, update_interval=0.05) as client:
            assert client.wait_for_filter(30)
            with Watchlist(client, tmp_path / "watch.sqlite") as watch:
                watch.add(("phone", f"+86136{n:08d}") for n in range(100_000))
                wait_until(watch.idle, timeout=120, message="the first screen of 100k subjects")
                version = ingest_phones(server.admin_address, secret, add=[OTHER])
                wait_until(lambda: watch.idle() and (watch.version or 0) >= version, timeout=30)
        methods = _handled(server)
        assert {"GetFilter", "GetFilterUpdates"} <= set(methods)
        assert set(methods) <= {"GetFilter", "GetFilterUpdates", "GetNetworkInfo"}, methods
    finally:
        server.terminate()


def test_alerts_reach_an_async_iterator(tmp_path: Path, server: ServerProcess, secret: NetworkSecret) -> None:
    """alerts() yields each delivered alert on the event loop."""

    async def first_alert() -> Alert:
        with (RiskListClient(server.address, secret=secret, update_interval=0.05) as client,
              Watchlist(client, tmp_path / "watch.sqlite") as watch):
            stream = watch.alerts()
            watch.add([("phone", CUSTOMER, "c")])
            ingest_phones(server.admin_address, secret, add=[CUSTOMER])
            return await asyncio.wait_for(anext(stream), timeout=30)

    alert = asyncio.run(first_alert())
    assert alert.kind is AlertKind.LISTED and alert.label == "c"


def _handled(server: ServerProcess) -> dict[str, float]:
    """RiskList RPCs the server completed, by method (its /metrics)."""
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("grpc_server_handled_total{") and 'grpc_service="risklist.v1.RiskList"' in line:
            method = line.split('grpc_method="', 1)[1].split('"', 1)[0]
            counts[method] = counts.get(method, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


class _AddsDuringFirstCheck:
    """A client whose first check_keys (the re-screen's confirmation) also adds `late` to the watchlist, as a
    caller on another thread could while a re-screen runs."""

    def __init__(self, client: RiskListClient, late: str) -> None:
        self._client = client
        self._late = late
        self.watch: Watchlist | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def check_keys(self, keys: list[bytes]) -> object:
        if self.watch is not None:
            watch, self.watch = self.watch, None
            watch.add([("phone", self._late, "late")])
        return self._client.check_keys(keys)


def test_a_subject_added_while_a_re_screen_runs_is_still_screened(
    tmp_path: Path, server: ServerProcess, secret: NetworkSecret
) -> None:
    """Regression: a re-screen used to clear every pending subject, so one added after it read the watched keys
    was never screened and, listed already, never alerted."""
    ingest_phones(server.admin_address, secret, add=[CUSTOMER, OTHER])
    inbox = Inbox()
    with RiskListClient(server.address, secret=secret, update_interval=0.05) as client:
        assert client.wait_for_filter(30)
        adding = _AddsDuringFirstCheck(client, OTHER)
        watch = Watchlist(cast(RiskListClient, adding), tmp_path / "watch.sqlite", on_alert=inbox)
        watch.add([("phone", CUSTOMER, "first")])
        adding.watch = watch
        with watch:
            wait_until(lambda: adding.watch is None and watch.idle(), timeout=30, message="the re-screen")
    assert sorted(inbox.kinds()) == [(AlertKind.LISTED, "first"), (AlertKind.LISTED, "late")]
