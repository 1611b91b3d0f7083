"""Freshness and no false "not listed": real server (2 workers), real SDK clients, acknowledged writes."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risklist_client import CheckResult, RiskListClient
from risklist_kernel.secret import NetworkSecret
from tests.client.conftest import ingest_phones
from tests.support.running_server import start_server
from tests.support.waiting import wait_until

FRESHNESS_BOUND_SECONDS = 5.0
POOL = [f"+86138001380{n:02d}" for n in range(24)]


def test_every_client_answers_listed_within_five_seconds_of_an_acknowledged_write(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """From the ingest's acknowledgement, every SDK client (default update interval) answers listed in ≤ 5 s."""
    server = start_server(tmp_path / "db", secret_file, "--workers", "2")
    clients = [RiskListClient(server.address, secret=secret) for _ in range(4)]
    try:
        ingest_phones(server.admin_address, secret, add=[POOL[0]])  # a non-empty filter to start from
        assert all(client.wait_for_filter(10) for client in clients)
        assert all(not client.check("phone", POOL[1]).listed for client in clients)
        ingest_phones(server.admin_address, secret, add=[POOL[1]])
        acknowledged = time.monotonic()
        delays: dict[int, float] = {}

        def every_client_saw_it() -> bool:
            for number, client in enumerate(clients):
                if number not in delays and client.check("phone", POOL[1]).listed:
                    delays[number] = time.monotonic() - acknowledged
            return len(delays) == len(clients)

        wait_until(every_client_saw_it, timeout=2 * FRESHNESS_BOUND_SECONDS, interval=0.02,
                   message=f"not every one of {len(clients)} clients saw the write")
        assert len(delays) == len(clients), f"only {len(delays)} of {len(clients)} clients saw the write"
        print(f"write-to-listed seconds per client: {sorted(round(d, 3) for d in delays.values())}")
        assert max(delays.values()) <= FRESHNESS_BOUND_SECONDS, delays
        assert all(client.metrics().fallback_checks == 0 for client in clients)
    finally:
        for client in clients:
            client.close()
        server.terminate()


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["add", "remove"]), st.lists(st.sampled_from(POOL), min_size=1, max_size=6, unique=True)),
    min_size=1, max_size=6,
)


def test_no_listed_subject_is_ever_reported_not_listed(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """Random adds and removes (enough removes to force resets): no answer says "not listed" for a subject
    listed at the version the answer reflects, and once the client catches up every listed subject is listed."""
    config = tmp_path / "network.toml"
    config.write_text("filter_max_removed = 2\n")
    server = start_server(tmp_path / "db", secret_file, "--config", str(config))
    client = RiskListClient(server.address, secret=secret, update_interval=0.05)
    listed_at: dict[int, frozenset[str]] = {0: frozenset()}
    listed: set[str] = set()

    def was_listed(phone: str, version: int) -> bool:
        return phone in listed_at[max(v for v in listed_at if v <= version)]

    def consistent(phone: str, result: CheckResult) -> bool:
        return result.listed or not was_listed(phone, result.list_version)

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(OPERATIONS)
    def run(operations: list[tuple[str, list[str]]]) -> None:
        for action, phones in operations:
            version = ingest_phones(server.admin_address, secret, **{action: phones})
            if action == "add":
                listed.update(phones)
            else:
                listed.difference_update(phones)
            listed_at[version] = frozenset(listed)
            for phone in POOL:
                assert consistent(phone, client.check("phone", phone)), (phone, version)
        wait_until(lambda: client.metrics().filter_version >= version, timeout=10,
                   message="the client's filter never reached the last version")
        results = client.check_many([("phone", phone) for phone in POOL])
        assert {phone for phone, result in zip(POOL, results, strict=True) if result.listed} == listed

    try:
        assert client.wait_for_filter(10)
        run()
        metrics = client.metrics()
        assert metrics.filter_resets > 0 and metrics.answered_locally > 0
    finally:
        client.close()
        server.terminate()
