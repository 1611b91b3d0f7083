"""A worker's write path wired from the start-time settings: the writer runs writes, a reader forwards them."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.secret import NetworkSecret
from risklist_server.core.partners import Role
from risklist_server.core.settings import Settings
from risklist_server.core.subject import Subject
from risklist_server.process.write_path import changelog_window, reader_side, subject_resolver, writer_side
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.write_calls import LocalWrites
from risklist_server.rpc.writer_link import create_writer_link
from risklist_server.services.lookup import LookupService
from risklist_server.store.changelog_trim import ChangelogWindow
from risklist_server.store.replica import ReplicaStore
from risklist_server.store.risk_store import RiskStore
from tests.support.admin_ingest import PHONE

NATIONAL = "13800138000"
"""PHONE as a partner in China writes it: only the settings' default_region CN makes it PHONE."""

BANK_A = Caller("bank-a", frozenset({Role.CONTRIBUTE, Role.QUERY}))


def _report(value: str = NATIONAL) -> pb.ReportRequest:
    return pb.ReportRequest(reports=[pb.Report(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=value),
                                               category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH,
                                               reference="CASE-1")])


def _verdicts(store: RiskStore, settings: Settings, secret: NetworkSecret) -> LookupService:
    return LookupService(store, subject_resolver(settings, secret), max_batch=settings.max_batch)


@pytest.fixture()
def run_dir() -> Iterator[Path]:
    # Short and private, like the supervisor's (a unix socket path has at most 107 bytes).
    path = Path(tempfile.mkdtemp(prefix="rl-wp-"))
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def test_the_writer_side_follows_the_settings_it_is_given(store: RiskStore, secret: NetworkSecret) -> None:
    """A Report is normalised with the settings' region; GetEntry shows others' sources only if they say so."""
    for disclose in (False, True):
        settings = Settings(default_region="CN", disclose_sources=disclose)
        side = writer_side(settings, store, secret, _verdicts(store, settings, secret).verdict)
        response = LocalWrites(side.calls).submit("Report", BANK_A, "r" * 24, _report(), pb.ReportResponse,
                                                  timeout=5)
        assert response.added + response.unchanged == 1
        entry, version = side.entries.get_entry("bank-b", Subject(pb.ENTITY_TYPE_PHONE, PHONE))
        assert version == store.version and entry.verdict.listed
        assert [shown.source for shown in entry.contributions] == ["bank-a" if disclose else ""]


def test_a_reader_side_forwards_writes_and_sees_them_before_answering(
    tmp_path: Path, store: RiskStore, secret: NetworkSecret, run_dir: Path
) -> None:
    """A Report through a reader reaches the writer, and the reader's replica shows it when the call returns."""
    settings = Settings(default_region="CN")
    writer = writer_side(settings, store, secret, _verdicts(store, settings, secret).verdict)
    link, _ = create_writer_link(run_dir, writer.calls, lambda: store.version)
    link.start()
    replica = ReplicaStore(tmp_path / "db", tmp_path / "secondary", secret_fingerprint=secret.fingerprint)
    side = reader_side(settings, replica, secret, run_dir, _verdicts(store, settings, secret).verdict)
    try:
        response = side.writes.submit("Report", BANK_A, "s" * 24, _report(), pb.ReportResponse, timeout=5)
        assert response.added == 1
        entry, version = side.entries.get_entry("bank-a", Subject(pb.ENTITY_TYPE_PHONE, PHONE))
        assert version >= response.list_version
        assert [(shown.source, shown.own, shown.reference) for shown in entry.contributions] == [
            ("bank-a", True, "CASE-1")]
    finally:
        side.writes.close()
        replica.close()
        link.stop(None).wait()


def test_the_changelog_window_follows_the_settings() -> None:
    """changelog_max_age_hours and changelog_max_entries become the writer's trim window (age in seconds)."""
    settings = Settings(changelog_max_age_hours=48, changelog_max_entries=5_000)
    assert changelog_window(settings) == ChangelogWindow(max_entries=5_000, max_age=48 * 3600)
