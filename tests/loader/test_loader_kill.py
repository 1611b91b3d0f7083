"""kill -9 during a load, then a re-run, reaches exactly the state of one uninterrupted load."""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from loader_feeds import generated_rows, loader_command, loader_env, records, run_loader, write_csv

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.core.record import Record
from risklist_server.store.risk_store import RiskStore

BATCH_SIZE = 25


@dataclass(frozen=True)
class World:
    """A secret, a base store holding two sources, and the feeds loaded on top of it."""

    root: Path
    secret_file: Path
    secret: NetworkSecret
    base: Path
    delta: Path
    snapshot: Path


def load(world: World, db: Path, feed: Path, mode: str, source: str = "bank-a") -> None:
    result = run_loader(world.root, feed, "--source", source, "--db", db, "--secret-file",
                        world.secret_file, "--mode", mode, "--batch-size", BATCH_SIZE)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("kill")
    secret_file = root / "network.secret"
    write_secret(secret_file, NetworkSecret(secrets.token_bytes(32)))
    secret = NetworkSecret.from_hex(secret_file.read_text(), origin="test")
    removes = [{"action": "remove", "entity_type": row["entity_type"], "identifier": row["identifier"]}
               for row in generated_rows(400)]
    built = World(
        root, secret_file, secret, root / "base",
        delta=write_csv(root / "delta.csv", generated_rows(1600, start=1200) + removes),
        snapshot=write_csv(root / "snapshot.csv", generated_rows(1800, start=1000, level="critical")),
    )
    load(built, built.base, write_csv(root / "a.csv", generated_rows(1500, level="low")), "delta")
    load(built, built.base, write_csv(root / "b.csv", generated_rows(500, start=1000)), "delta", "bank-b")
    return built


def uninterrupted(world: World, mode: str) -> dict[bytes, Record]:
    db = world.root / f"reference-{mode}"
    if not db.exists():
        shutil.copytree(world.base, db)
        load(world, db, world.delta if mode == "delta" else world.snapshot, mode)
    return records(db, world.secret)


def kill_after(world: World, db: Path, feed: Path, mode: str, event: str, count: int) -> None:
    """Run the loader and SIGKILL it as soon as it has logged `event` `count` times."""
    command = loader_command(feed, "--source", "bank-a", "--db", db, "--secret-file", world.secret_file,
                             "--mode", mode, "--batch-size", BATCH_SIZE, "--log-format", "json")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=loader_env(world.root))
    assert process.stderr is not None
    seen = 0
    try:
        for line in process.stderr:
            if line.startswith("{") and json.loads(line)["event"] == event:
                seen += 1
                if seen == count:
                    os.kill(process.pid, signal.SIGKILL)
                    break
    finally:
        process.stderr.close()
        process.wait(timeout=60)
    assert seen == count, f"the loader ended before logging {event} {count} times"
    assert process.returncode == -signal.SIGKILL


def batches(feed: Path) -> int:
    rows = len(feed.read_text().splitlines()) - 1
    return math.ceil(rows / BATCH_SIZE)


@pytest.mark.parametrize(
    ("mode", "event", "point"),
    [
        ("delta", "validated", 1),
        ("delta", "batch_applied", 7),
        ("snapshot", "batch_applied", 1),
        ("snapshot", "batch_applied", 40),
        ("snapshot", "batch_applied", -1),
    ],
)
def test_kill_and_rerun_equals_uninterrupted_load(world: World, mode: str, event: str, point: int) -> None:
    """SIGKILL after validation, after a batch, or after the last batch; a re-run converges exactly."""
    feed = world.delta if mode == "delta" else world.snapshot
    expected = uninterrupted(world, mode)
    count = batches(feed) if point == -1 else point
    db = world.root / f"victim-{mode}-{event}-{point}"
    shutil.copytree(world.base, db)
    kill_after(world, db, feed, mode, event, count)
    if event == "batch_applied" and point != -1:
        assert records(db, world.secret) != expected, "the kill should leave the load unfinished"
    load(world, db, feed, mode)
    assert records(db, world.secret) == expected
    with RiskStore(db, create=True, secret_fingerprint=world.secret.fingerprint) as store:
        assert all(store.lookup(key) is not None for key in expected), "the front lost a key"
