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

import pytest
from loader_feeds import generated_rows, loader_command, loader_env, records, run_loader, write_csv

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_loader import bulk
from risklist_loader.batches import ordered_batches
from risklist_loader.buckets import DIRECT_MAX_DIGEST_BITS
from risklist_loader.db_sink import DbSink
from risklist_loader.ordering import BucketFeed, FeedCounts, OrderedFeed, bucket_chunks, order_feed
from risklist_loader.parallel import WorkerSetup, run_chunks
from risklist_loader.rows import FIELDS
from risklist_loader.worker_pool import load_pool
from risklist_server.core.record import Record
from risklist_server.core.settings import Settings
from risklist_server.services.ingest import LoadMode
from risklist_server.store.apply import ApplyResult
from risklist_server.store.restore import VERSION_GAP
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


def later_rows() -> list[dict[str, object]]:
    """A second delta of bank-a: every category of 40 subjects removed, 40 raised to critical, 20 new, 5 unknown."""
    rows: list[dict[str, object]] = [{"action": "remove", "entity_type": row["entity_type"],
                                      "identifier": row["identifier"]} for row in generated_rows(40, start=0)]
    rows += [dict(row, level="critical") for row in generated_rows(40, start=100)]
    rows += generated_rows(20, start=3000)
    rows += [{"action": "remove", "entity_type": row["entity_type"], "identifier": row["identifier"]}
             for row in generated_rows(5, start=7000)]
    return rows


def changelog_state(db: Path, secret: NetworkSecret) -> dict[bytes, bool]:
    """Each key the changelog names, and whether its last mention says listed."""
    state: dict[bytes, bool] = {}
    with RiskStore(db, create=True, secret_fingerprint=secret.fingerprint) as store:
        for _, changes in store.changes_since(0):
            for change in changes:
                state[change.key] = change.listed
    return state


def merged_loads(tmp_path: Path, db: Path, secret_file: Path, minimum: int) -> list[dict[str, Any]]:
    """bank-b's feed, then bank-a's (overlapping subjects), then bank-a's later delta: the summaries."""
    summaries = []
    for source, rows in (("bank-b", generated_rows(300, start=500)), ("bank-a", feed_rows()),
                         ("bank-a", later_rows())):
        feed = write_csv(tmp_path / f"{db.name}-{len(summaries)}.csv", rows)
        result = run_loader(tmp_path, feed, "--source", source, "--db", db, "--secret-file", secret_file,
                            "--bulk-min-rows", minimum)
        assert result.returncode in (0, 3), result.stderr
        assert ("bulk_ingested" in events(result)) == (minimum == 0)
        summaries.append(summary(result))
    return summaries


def test_a_delta_into_a_filled_store_merges_in_bulk_as_batches_would(tmp_path: Path, secret_file: Path,
                                                                     secret: NetworkSecret) -> None:
    """Deltas into a store that holds records (other sources' and the source's own) take the bulk merge: the
    records and counts are the batch path's, other sources' contributions survive, removed subjects are deleted,
    and the changelog and front agree with the records."""
    batch = merged_loads(tmp_path, tmp_path / "batch", secret_file, 10**9)
    bulk_summaries = merged_loads(tmp_path, tmp_path / "bulk", secret_file, 0)
    counted = ("rows", "accepted", "rejected", "added", "unchanged", "removed", "not_listed", "repeated",
               "superseded")
    for merged, batched in zip(bulk_summaries, batch, strict=True):
        assert {name: merged[name] for name in counted} == {name: batched[name] for name in counted}
    assert bulk_summaries[2]["removed"] > 0 and bulk_summaries[2]["not_listed"] == 5
    stored = records(tmp_path / "bulk", secret)
    assert stored == records(tmp_path / "batch", secret)
    state = changelog_state(tmp_path / "bulk", secret)
    assert all(state.get(key) is True for key in stored), "a stored key whose last changelog word is not listed"
    assert all(key in stored for key, listed in state.items() if listed), "a key listed by the changelog is gone"
    removed = [key for key, listed in state.items() if not listed]
    assert removed, "the later delta's removes reach the changelog"
    with RiskStore(tmp_path / "bulk", create=True, secret_fingerprint=secret.fingerprint) as store:
        assert all(store.front.might_contain(key) for key in stored)
    again = run_loader(tmp_path, tmp_path / "bulk-2.csv", "--source", "bank-a", "--db", tmp_path / "bulk",
                       "--secret-file", secret_file, "--bulk-min-rows", 0)
    assert summary(again)["added"] == 0 and summary(again)["list_version"] == bulk_summaries[2]["list_version"]


@pytest.mark.parametrize("step", ["bulk-merge-ingest", "bulk-merge-changelog"])
def test_kill_during_a_bulk_merge_then_rerun_converges_and_partners_reset(tmp_path: Path, secret_file: Path,
                                                                          secret: NetworkSecret, step: str) -> None:
    """SIGKILL before the merge's files are ingested, or after (before its changelog entries): the re-run leaves
    the uninterrupted records, and a merge cut short after its ingestion makes every partner's next update a
    reset (a version gap), since the re-run finds those records changed already and writes no entry for them."""
    reference = tmp_path / "reference"
    merged_loads(tmp_path, reference, secret_file, 0)
    db = tmp_path / "victim"
    first, second = (write_csv(tmp_path / name, rows) for name, rows in
                     (("b.csv", generated_rows(300, start=500)), ("a.csv", feed_rows())))
    for feed, source in ((first, "bank-b"), (second, "bank-a")):
        assert run_loader(tmp_path, feed, "--source", source, "--db", db, "--secret-file", secret_file,
                          "--bulk-min-rows", 0).returncode in (0, 3)
    with RiskStore(db, create=True, secret_fingerprint=secret.fingerprint) as store:
        before = store.version
    later = write_csv(tmp_path / "later.csv", later_rows())
    pause = tmp_path / "paused"
    env = dict(loader_env(tmp_path), RISKLIST_PAUSE_AT=step, RISKLIST_PAUSE_FILE=str(pause))
    process = subprocess.Popen(loader_command(later, "--source", "bank-a", "--db", db, "--secret-file", secret_file,
                                              "--bulk-min-rows", 0, "--log-format", "json"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 60
        while not pause.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pause.exists(), f"the loader never reached {step}"
    finally:
        process.kill()
        process.wait(timeout=30)
    with RiskStore(db, create=True, secret_fingerprint=secret.fingerprint) as store:
        reopened = store.version
        first_after = next((sequence for sequence, _ in store.changes_since(before)), None)
    assert reopened >= before + VERSION_GAP
    assert first_after == before + VERSION_GAP, "partners at the old version must find a gap (a reset)"
    rerun = run_loader(tmp_path, later, "--source", "bank-a", "--db", db, "--secret-file", secret_file,
                       "--bulk-min-rows", 0)
    assert rerun.returncode == 0, rerun.stderr
    assert records(db, secret) == records(reference, secret)
    stored = records(db, secret)
    with RiskStore(db, create=True, secret_fingerprint=secret.fingerprint) as store:
        assert all(store.front.might_contain(key) for key in stored)


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
    """Records built by several processes (each its own key range and files: a pool of their own, or the load's
    pool, forked before the store opened) equal one process's."""
    feed = write_csv(tmp_path / "feed.csv", feed_rows())
    stores = {}
    for name, minimum, workers in (("one", 10**9, 0), ("many", 1, 0), ("shared", 1, 2)):
        monkeypatch.setattr(bulk, "PARALLEL_BUILD_MIN", minimum)
        buckets = _bucketed(feed, tmp_path / f"work-{name}")
        with (load_pool(workers, forked=True) as pool,
              RiskStore(tmp_path / name, create=True, secret_fingerprint=SECRET.fingerprint) as store):
            result = bulk.bulk_into_store(store, "bank-a", buckets, pool=pool)
            stores[name] = (result, dict(store.iter_records()), store.version)
    assert stores["many"][:2] == stores["one"][:2] == stores["shared"][:2]
    assert stores["many"][2] == stores["one"][2] == stores["shared"][2] > 0


def test_a_bulk_load_refused_once_its_rows_are_decided_applies_nothing(tmp_path: Path) -> None:
    """The builders decide the rows as they build; shown the counts, a refusal (a snapshot that lists nothing, say)
    leaves the store as it was: no record, no version, no scratch files."""
    feed = write_csv(tmp_path / "feed.csv", feed_rows())
    shown: list[FeedCounts] = []

    def refuse(counts: FeedCounts) -> str:
        shown.append(counts)
        return "refused"

    sink = DbSink(tmp_path / "db", SECRET.fingerprint)
    sink.open()
    try:
        counts, outcome = sink.load_bulk("bank-a", LoadMode.DELTA, _bucketed(feed, tmp_path / "work"), refuse)
    finally:
        sink.close()
    assert outcome is None and shown == [counts] and counts.applied > 0
    assert counts == _ordered(feed, tmp_path / "work-ordered")[1]
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=SECRET.fingerprint) as store:
        assert dict(store.iter_records()) == {} and store.version == 0
        assert not list(store.path.glob("bulk-ingest-*"))


def test_builders_get_contiguous_ranges_of_about_equal_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """One entity type's buckets can hold most rows: the ranges are cut by rows, not by bucket count, in key order."""
    monkeypatch.setattr(bulk.os, "cpu_count", lambda: 2)
    buckets = list(range(10, 24))
    rows = [250, 250, 100, 100, 75, 75, 50, 50, 10, 10, 10, 10, 5, 5]
    parts = bulk._parts(buckets, rows, bulk.PARALLEL_BUILD_MIN)
    assert [bucket for part in parts for bucket in part] == buckets and all(parts)
    assert len(parts) == 2 * bulk.PARTS_PER_CORE - 2  # the biggest buckets cannot be cut
    sizes = [sum(rows[buckets.index(bucket)] for bucket in part) for part in parts]
    assert max(sizes) == 250
    assert bulk._parts(buckets, rows, bulk.PARALLEL_BUILD_MIN - 1) == [buckets]  # a small feed: this process


def _ordered(feed: Path, work: Path) -> tuple[OrderedFeed, FeedCounts]:
    """Pass 1 in-process, then the buckets decided: the applied rows as the batch path takes them, and the counts."""
    counts, ordered = order_feed(_bucketed(feed, work))
    return ordered, counts


def _bucketed(feed: Path, work: Path, direct_max_bits: int = DIRECT_MAX_DIGEST_BITS) -> BucketFeed:
    """Pass 1 in-process: the accepted rows in their buckets, as the bulk path takes them."""
    work.mkdir()
    start = len(feed.read_bytes().split(b"\n", 1)[0]) + 1
    (work / "buckets").mkdir()
    setup = WorkerSetup(feed, "csv", FIELDS, "bank-a", False, "CN", SECRET.key, Settings(), int(time.time()), work,
                        work / "buckets")
    results = list(run_chunks(setup, start, 2, feed.stat().st_size, direct_max_bits=direct_max_bits))
    assert all((result.spool is None) == (direct_max_bits >= 0) for result in results)
    return bucket_chunks(results, work / "buckets")


def test_rows_put_in_buckets_by_pass_1_or_by_partitioning_build_the_same_store(tmp_path: Path) -> None:
    """Big feeds go through spools and partitioning, the others straight into the buckets: the same records,
    counts and list version either way."""
    rows = feed_rows() + [{"action": "remove", "entity_type": row["entity_type"], "identifier": row["identifier"]}
                          for row in generated_rows(15, start=120)]
    feed = write_csv(tmp_path / "feed.csv", rows)
    stores = {}
    for name, bits in (("direct", DIRECT_MAX_DIGEST_BITS), ("spooled", -1)):
        with RiskStore(tmp_path / name, create=True, secret_fingerprint=SECRET.fingerprint) as store:
            counts, result = bulk.bulk_into_store(store, "bank-a", _bucketed(feed, tmp_path / f"work-{name}", bits))
            stores[name] = (counts, result, dict(store.iter_records()), store.version)
    assert stores["direct"] == stores["spooled"]
    assert stores["direct"][2]


def test_bulk_build_counts_a_mixed_feed_as_risk_store_apply_does(tmp_path: Path) -> None:
    """Adds, second categories, removes of one or every category and of unlisted subjects: same counts both ways."""
    rows = feed_rows()
    rows += [{"action": "remove", "entity_type": row["entity_type"], "identifier": row["identifier"]}
             for row in generated_rows(15, start=120)]  # two categories each, both removed (the general path)
    rows += [{"action": "remove", "entity_type": row["entity_type"], "identifier": row["identifier"]}
             for row in generated_rows(5, start=5000)]  # never listed: not_listed
    feed = write_csv(tmp_path / "feed.csv", rows)
    ordered, counts = _ordered(feed, tmp_path / "work")
    with RiskStore(tmp_path / "applied", create=True, secret_fingerprint=SECRET.fingerprint) as store:
        applied = ApplyResult()
        for batch in ordered_batches(ordered, "bank-a", 64):
            applied.merge(store.apply(batch.mutations))
        applied_records = dict(store.iter_records())
    with RiskStore(tmp_path / "bulk", create=True, secret_fingerprint=SECRET.fingerprint) as store:
        built_counts, built = bulk.bulk_into_store(store, "bank-a", _bucketed(feed, tmp_path / "work-bulk"))
        assert built_counts == counts and built is not None
        assert dict(store.iter_records()) == applied_records
    counted = ("added", "unchanged", "removed", "not_listed")
    assert {name: getattr(built, name) for name in counted} == {name: getattr(applied, name) for name in counted}
    # Into an empty store a remove finds nothing: the adds it follows in the feed are superseded, never applied.
    assert (applied.removed, applied.not_listed) == (0, 60) and applied.added > 0
