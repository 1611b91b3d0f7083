"""The bulk path of --db: same records, counts and changelog as the batch path, and kill -9 safe."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from loader_feeds import generated_rows, loader_command, loader_env, records, run_loader, write_csv

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_loader import bulk
from risklist_loader.feed_order import APPLY, order_rows
from risklist_loader.parallel import ChunkResult, WorkerSetup, run_chunks
from risklist_loader.rows import FIELDS
from risklist_loader.spool import SpoolTails, read_all_entries, read_batches
from risklist_server.core.record import Record
from risklist_server.core.settings import Settings
from risklist_server.store.apply import ApplyResult
from risklist_server.store.risk_store import RiskStore

SECRET = NetworkSecret(bytes(range(32)))


def feed_rows() -> list[dict[str, object]]:
    """Adds, a second category for some subjects, repeated rows, removes (superseding adds) and a bad row."""
    rows = generated_rows(600)
    again = [dict(row, category="identity_fraud", level="low") for row in generated_rows(100, start=50)]
    duplicates = [dict(row) for row in generated_rows(20, start=10)]
    removes: list[dict[str, object]] = [
        {"action": "remove", "entity_type": row["entity_type"], "identifier": row["identifier"]}
        for row in generated_rows(30, start=200)
    ]
    removes += [{"action": "remove", "entity_type": row["entity_type"], "identifier": row["identifier"],
                 "category": "identity_fraud"} for row in generated_rows(10, start=60)]
    bad = [dict(generated_rows(1, start=900)[0], level="extreme")]
    return rows + again + duplicates + removes + bad + generated_rows(50, start=1000)


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in result.stderr
    done = [json.loads(line) for line in result.stderr.splitlines() if '"load_done"' in line]
    assert done, result.stderr
    fields: dict[str, Any] = done[-1]
    return fields


def events(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [json.loads(line)["event"] for line in result.stderr.splitlines() if line.startswith("{")]


def load(tmp_path: Path, feed: Path, db: Path, secret_file: Path, *extra: object) -> subprocess.CompletedProcess[str]:
    return run_loader(tmp_path, feed, "--source", "bank-a", "--db", db, "--secret-file", secret_file, *extra)


def changelog_keys(db: Path, secret: NetworkSecret) -> tuple[set[bytes], set[bytes]]:
    """Keys the changelog lists as listed, and as unlisted, over all its entries."""
    listed: set[bytes] = set()
    unlisted: set[bytes] = set()
    with RiskStore(db, create=True, secret_fingerprint=secret.fingerprint) as store:
        for _, changes in store.changes_since(0):
            for change in changes:
                (listed if change.listed else unlisted).add(change.key)
    return listed, unlisted


@pytest.mark.parametrize("mode", ["delta", "snapshot"])
def test_bulk_equals_batch_path(tmp_path: Path, secret_file: Path, secret: NetworkSecret, mode: str) -> None:
    """Into an empty store, the bulk path leaves the records and counts the batch path leaves."""
    feed = write_csv(tmp_path / "feed.csv", feed_rows())
    batch = load(tmp_path, feed, tmp_path / "batch", secret_file, "--mode", mode, "--bulk-min-rows", 10**9)
    bulk = load(tmp_path, feed, tmp_path / "bulk", secret_file, "--mode", mode, "--bulk-min-rows", 0,
                "--rejects", tmp_path / "bulk.rejects.csv")
    assert batch.returncode == bulk.returncode == 3
    assert "bulk_ingested" in events(bulk) and "bulk_ingested" not in events(batch)
    counted = ("rows", "accepted", "rejected", "added", "unchanged", "removed", "not_listed", "swept")
    assert {name: summary(bulk)[name] for name in counted} == {name: summary(batch)[name] for name in counted}
    expected = records(tmp_path / "batch", secret)
    assert records(tmp_path / "bulk", secret) == expected
    # 20 copies repeat their rows; 30 adds are superseded by removes of every category, 10 by removes of theirs
    assert (summary(bulk)["repeated"], summary(bulk)["superseded"]) == (20, 40)
    assert len((tmp_path / "bulk.rejects.csv").read_text().splitlines()) == 2  # the header and the bad row


def test_bulk_changelog_and_front_cover_every_listed_key(tmp_path: Path, secret_file: Path,
                                                         secret: NetworkSecret) -> None:
    """Every key the bulk load lists is in a listed changelog entry, and the reopened front holds it."""
    feed = write_csv(tmp_path / "feed.csv", feed_rows())
    assert load(tmp_path, feed, tmp_path / "db", secret_file, "--bulk-min-rows", 0).returncode == 3
    stored = records(tmp_path / "db", secret)
    listed, _ = changelog_keys(tmp_path / "db", secret)
    assert set(stored) <= listed
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint) as store:
        assert all(store.front.might_contain(key) for key in stored)
        assert store.version == max(sequence for sequence, _ in store.changes_since(0))


def test_second_load_into_a_filled_store_merges(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """A bulk-sized feed into a store that holds records takes the merging path: other sources survive."""
    feed = write_csv(tmp_path / "feed.csv", feed_rows())
    other = write_csv(tmp_path / "other.csv", generated_rows(300, start=500))
    reference = tmp_path / "reference"
    for db, minimum in ((reference, 10**9), (tmp_path / "db", 0)):
        result = run_loader(tmp_path, other, "--source", "bank-b", "--db", db, "--secret-file", secret_file,
                            "--bulk-min-rows", minimum)
        assert result.returncode == 0, result.stderr
        second = load(tmp_path, feed, db, secret_file, "--bulk-min-rows", minimum)
        assert second.returncode == 3
        assert "bulk_ingested" not in events(second)
    assert records(tmp_path / "db", secret) == records(reference, secret)


@pytest.fixture(scope="module")
def kill_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, NetworkSecret, Path, dict[bytes, Record]]:
    """A feed, a secret, and the records one uninterrupted bulk load leaves."""
    root = tmp_path_factory.mktemp("bulk-kill")
    secret_file = root / "network.secret"
    write_secret(secret_file, NetworkSecret(secrets.token_bytes(32)))
    secret = NetworkSecret.from_hex(secret_file.read_text(), origin="test")
    feed = write_csv(root / "feed.csv", feed_rows())
    reference = root / "reference"
    assert load(root, feed, reference, secret_file, "--bulk-min-rows", 0).returncode == 3
    return root, secret_file, secret, feed, records(reference, secret)


@pytest.mark.parametrize("event", ["validated", "bulk_built", "bulk_ingested"])
def test_kill_during_bulk_then_rerun_equals_uninterrupted(
    kill_world: tuple[Path, Path, NetworkSecret, Path, dict[bytes, Record]], event: str
) -> None:
    """SIGKILL right after validation, after building the files, or after ingesting; a re-run converges."""
    root, secret_file, secret, feed, expected = kill_world
    db = root / f"victim-{event}"
    shutil.rmtree(db, ignore_errors=True)
    command = loader_command(feed, "--source", "bank-a", "--db", db, "--secret-file", secret_file,
                             "--bulk-min-rows", 0, "--log-format", "json")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=loader_env(root))
    assert process.stderr is not None
    seen = False
    try:
        for line in process.stderr:
            if line.startswith("{") and json.loads(line)["event"] == event:
                os.kill(process.pid, signal.SIGKILL)
                seen = True
                break
    finally:
        process.stderr.close()
        process.wait(timeout=60)
    assert seen and process.returncode == -signal.SIGKILL
    rerun = load(root, feed, db, secret_file, "--bulk-min-rows", 0)
    assert rerun.returncode == 3, rerun.stderr
    assert records(db, secret) == expected
    listed, _ = changelog_keys(db, secret)
    assert set(expected) <= listed
    with RiskStore(db, create=True, secret_fingerprint=secret.fingerprint) as store:
        assert all(store.lookup(key) is not None for key in expected), "the front lost a key"
        assert not list(store.path.glob("bulk-ingest-*")), "scratch SST files were left in the store"


def test_builders_on_every_core_write_the_same_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records built by several processes (each its own key range and files) equal one process's."""
    feed = write_csv(tmp_path / "feed.csv", feed_rows())
    start = len(feed.read_bytes().split(b"\n", 1)[0]) + 1
    stores = {}
    for name, minimum in (("one", 10**9), ("many", 1)):
        monkeypatch.setattr(bulk, "PARALLEL_BUILD_MIN", minimum)
        work = tmp_path / f"work-{name}"
        work.mkdir()
        setup = WorkerSetup(feed, "csv", FIELDS, "bank-a", False, "CN", SECRET.key, Settings(), int(time.time()), work)
        results = list(run_chunks(setup, start, 2, feed.stat().st_size, workers=0))
        spooled, _ = _spooled(results)
        with RiskStore(tmp_path / name, create=True, secret_fingerprint=SECRET.fingerprint) as store:
            counts = bulk.bulk_into_empty(store, "bank-a", spooled)
            stores[name] = (counts, dict(store.iter_records()), store.version)
    assert stores["many"][:2] == stores["one"][:2]
    assert stores["many"][2] == stores["one"][2] > 0


def _spooled(results: list[ChunkResult]) -> tuple[bulk.Spooled, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """The chunks' spools as the bulk path takes them, and the lines the batch path skips and holds."""
    paths = [result.spool for result in results]
    entries = read_all_entries(paths)
    found = order_rows(entries["key"], entries["action"], entries["category"], SpoolTails(paths, entries["tail"]).same)
    applied = found.fate == APPLY
    lines = entries["line"]
    return bulk.Spooled(paths, entries, found.order, ~applied), (lines[~applied], lines[found.held])


def _spool(feed: Path, work: Path) -> tuple[bulk.Spooled, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Pass 1 in-process: the spools as the bulk path takes them, and the lines the batch path skips and holds."""
    work.mkdir()
    start = len(feed.read_bytes().split(b"\n", 1)[0]) + 1
    setup = WorkerSetup(feed, "csv", FIELDS, "bank-a", False, "CN", SECRET.key, Settings(), int(time.time()), work)
    return _spooled(list(run_chunks(setup, start, 2, feed.stat().st_size, workers=0)))


def test_bulk_build_counts_a_mixed_feed_as_risk_store_apply_does(tmp_path: Path) -> None:
    """Adds, second categories, removes of one or every category and of unlisted subjects: same counts both ways."""
    rows = feed_rows()
    rows += [{"action": "remove", "entity_type": row["entity_type"], "identifier": row["identifier"]}
             for row in generated_rows(15, start=120)]  # two categories each, both removed (the general path)
    rows += [{"action": "remove", "entity_type": row["entity_type"], "identifier": row["identifier"]}
             for row in generated_rows(5, start=5000)]  # never listed: not_listed
    spooled, (skip, held) = _spool(write_csv(tmp_path / "feed.csv", rows), tmp_path / "work")
    with RiskStore(tmp_path / "applied", create=True, secret_fingerprint=SECRET.fingerprint) as store:
        applied = ApplyResult()
        for batch in read_batches(spooled.paths, "bank-a", 64, skip, held):
            applied.merge(store.apply(batch.mutations))
        applied_records = dict(store.iter_records())
    with RiskStore(tmp_path / "bulk", create=True, secret_fingerprint=SECRET.fingerprint) as store:
        built = bulk.bulk_into_empty(store, "bank-a", spooled)
        assert dict(store.iter_records()) == applied_records
    counted = ("added", "unchanged", "removed", "not_listed")
    assert {name: getattr(built, name) for name in counted} == {name: getattr(applied, name) for name in counted}
    # Into an empty store a remove finds nothing: the adds it follows in the feed are superseded, never applied.
    assert (applied.removed, applied.not_listed) == (0, 60) and applied.added > 0
