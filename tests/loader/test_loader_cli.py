"""risklist-load as a subprocess: delta and snapshot semantics, exit codes, summaries, rejects."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from loader_feeds import generated_rows, key_of, loader_command, loader_env, records, run_loader, write_csv, write_jsonl

from benchmarks.datagen import generate_rows
from benchmarks.datagen import write_csv as write_generated_csv
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.store.risk_store import RiskStore
from tests.support.small_disk import small_disk


def events(result: subprocess.CompletedProcess[str], name: str) -> list[dict[str, Any]]:
    found = []
    for line in result.stderr.splitlines():
        if line.startswith("{"):
            document = json.loads(line)
            if document.get("event") == name:
                found.append(document)
    return found


def done(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The load_done log line, after checking no traceback reached the user."""
    assert "Traceback" not in result.stderr
    [line] = events(result, "load_done")
    return line


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def load(tmp_path: Path, feed: Path, secret_file: Path, *extra: object, source: str = "bank-a",
         db: str = "db") -> subprocess.CompletedProcess[str]:
    return run_loader(tmp_path, feed, "--source", source, "--db", tmp_path / db, "--secret-file",
                      secret_file, *extra)


PHONE = "+8613800138000"
CARD = "4111 1111 1111 1111"


def test_delta_applies_adds_and_removes(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """Adds upsert, removes take away all or one category, and unknown removes count as not listed."""
    first = write_csv(tmp_path / "first.csv", [
        {"action": "add", "entity_type": "phone", "identifier": PHONE, "category": "telecom_fraud",
         "level": "high", "reported_at": "2026-03-01", "expires_at": "2036-03-01"},
        {"action": "add", "entity_type": "phone", "identifier": PHONE, "category": "money_mule",
         "level": "low", "reported_at": "2026-03-01", "expires_at": "2036-03-01"},
        {"action": "add", "entity_type": "card", "identifier": CARD, "category": "other",
         "level": "2", "reported_at": "2026-03-01", "expires_at": "2036-03-01"},
    ])
    assert done(load(tmp_path, first, secret_file))["added"] == 3
    second = write_jsonl(tmp_path / "second.jsonl", [
        {"action": "remove", "entity_type": "phone", "identifier": "138 0013 8000", "category": "money_mule"},
        {"action": "remove", "entity_type": "card", "identifier": CARD},
        {"action": "remove", "entity_type": "ip", "identifier": "192.0.2.1"},
        {"action": "add", "entity_type": "ip", "identifier": "192.0.2.2", "category": "gambling",
         "level": 4, "reported_at": "2026-03-02T10:00:00+08:00", "expires_at": "2037-01-01"},
    ])
    result = load(tmp_path, second, secret_file)
    assert result.returncode == 0, result.stderr
    summary = done(result)
    assert (summary["added"], summary["removed"], summary["not_listed"]) == (1, 2, 1)
    assert "added 1  unchanged 0  removed 2  not_listed 1" in result.stdout
    stored = records(tmp_path / "db", secret)
    phone = stored[key_of(secret, EntityType.PHONE, PHONE)]
    assert [(c.category, c.level) for c in phone] == [(Category.TELECOM_FRAUD, RiskLevel.HIGH)]
    assert key_of(secret, EntityType.CARD, CARD) not in stored
    [ip] = stored[key_of(secret, EntityType.IP, "192.0.2.2")]
    assert (ip.source, ip.level, ip.expires_at) == ("bank-a", RiskLevel.CRITICAL, 2_114_380_800)


def test_rerun_is_a_no_op(tmp_path: Path, secret_file: Path) -> None:
    """Loading the same feed again adds nothing and leaves the list version where it was."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(40) + [
        {"action": "remove", "entity_type": "ip", "identifier": "192.0.2.9"}])
    first = done(load(tmp_path, feed, secret_file))
    second = done(load(tmp_path, feed, secret_file))
    assert (first["added"], first["not_listed"]) == (40, 1)
    assert (second["added"], second["unchanged"], second["not_listed"]) == (0, 40, 1)
    assert second["list_version"] == first["list_version"]


def test_snapshot_makes_the_source_exactly_the_feed(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """A snapshot removes the source's contributions it lacks and leaves other sources alone."""
    rows = generated_rows(6)
    write_csv(tmp_path / "a.csv", rows[:4])
    write_csv(tmp_path / "b.csv", rows[:2])
    assert load(tmp_path, tmp_path / "a.csv", secret_file, "--mode", "snapshot").returncode == 0
    assert load(tmp_path, tmp_path / "b.csv", secret_file, source="bank-b").returncode == 0
    snapshot = write_csv(tmp_path / "a2.csv", rows[1:2] + rows[4:6])
    summary = done(load(tmp_path, snapshot, secret_file, "--mode", "snapshot"))
    assert (summary["added"], summary["unchanged"], summary["swept"]) == (2, 1, 3)
    stored = records(tmp_path / "db", secret)
    by_source: dict[str, set[str]] = {"bank-a": set(), "bank-b": set()}
    for _, record in stored.items():
        for contribution in record:
            by_source[contribution.source].add(contribution.reference)
    assert by_source == {"bank-a": {"case-1", "case-4", "case-5"}, "bank-b": {"case-0", "case-1"}}


def test_reject_ratio_decides_whether_anything_is_applied(tmp_path: Path, secret_file: Path) -> None:
    """Over the ratio nothing is applied (exit 1) yet the rejects file is written; under it, exit 3."""
    rows = generated_rows(18) + [
        {"action": "add", "entity_type": "phone", "identifier": "12", "category": "other", "level": "1",
         "reported_at": "2026-01-01"},
        {"action": "add", "entity_type": "ip", "identifier": "10.0.0.1", "category": "other", "level": "1",
         "reported_at": "2026-01-01T00:00:00"},
    ]
    feed = write_csv(tmp_path / "feed.csv", rows)
    refused = load(tmp_path, feed, secret_file, "--rejects", tmp_path / "rejects.csv")
    assert refused.returncode == 1
    assert "2 of 20 rows rejected (10.0%), more than --max-reject-ratio 0.05" in refused.stdout
    assert "nothing applied" in refused.stderr
    assert done(refused)["added"] == 0
    assert [r["line"] for r in read_rejects(tmp_path / "rejects.csv")] == ["20", "21"]
    assert records(tmp_path / "db", NetworkSecret.from_hex(secret_file.read_text(), origin="t")) == {}
    allowed = load(tmp_path, feed, secret_file, "--max-reject-ratio", "0.1")
    assert allowed.returncode == 3
    assert done(allowed)["added"] == 18
    assert "line 20, identifier: invalid phone identifier" in allowed.stdout


def test_dry_run_validates_and_applies_nothing(tmp_path: Path) -> None:
    """A dry run needs no store or secret, reports like a real run and touches nothing."""
    rows = generated_rows(30) + [dict(generated_rows(1)[0], level="extreme")]
    feed = write_csv(tmp_path / "feed.csv", rows)
    result = run_loader(tmp_path, feed, "--source", "bank-a", "--dry-run", "--rejects", tmp_path / "r.csv")
    assert result.returncode == 3, result.stderr
    assert "dry run: nothing applied (exit 3)" in result.stdout
    assert done(result)["accepted"] == 30
    assert read_rejects(tmp_path / "r.csv")[0]["field"] == "level"
    with_db = run_loader(tmp_path, feed, "--source", "bank-a", "--dry-run", "--db", tmp_path / "db",
                         "--max-reject-ratio", "0.01")
    assert with_db.returncode == 1
    assert not (tmp_path / "db").exists()


def _row(action: str, identifier: str, category: str = "", level: str = "", reported_at: str = "2026-03-01",
         **extra: str) -> dict[str, object]:
    """A phone row of the file-order tests (remove rows carry no level or date)."""
    row: dict[str, object] = {"action": action, "entity_type": "phone", "identifier": identifier,
                              "category": category}
    if action == "add":
        row.update(level=level, reported_at=reported_at, expires_at="2036-03-01")
    row.update(extra)
    return row


PHONES = [f"+86138001380{n:02d}" for n in range(1, 7)]


def test_rows_apply_in_file_order_and_the_last_word_wins(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """Add then remove leaves it removed, remove then add listed, low then critical critical; a remove of every
    category and the adds around it follow file order; an identical row is counted as repeated, not rejected."""
    s1, s2, s3, s4, s5, s6 = PHONES
    prior = write_csv(tmp_path / "prior.csv", [_row("add", s1, "telecom_fraud", "high"),
                                               _row("add", s4, "gambling", "high")])
    assert load(tmp_path, prior, secret_file).returncode == 0
    feed = write_csv(tmp_path / "feed.csv", [
        _row("add", s1, "telecom_fraud", "low"), _row("remove", s1, "telecom_fraud"),
        _row("remove", s2, "telecom_fraud"), _row("add", s2, "telecom_fraud", "high"),
        _row("add", s3, "telecom_fraud", "low"), _row("add", s3, "telecom_fraud", "critical"),
        _row("remove", s4), _row("add", s4, "money_mule", "high"),
        _row("add", s5, "telecom_fraud", "high"), _row("add", s5, "money_mule", "high"), _row("remove", s5),
        _row("add", s6, "other", "medium"), _row("add", s6, "other", "medium"),
    ])
    result = load(tmp_path, feed, secret_file, "--rejects", tmp_path / "r.csv")
    assert result.returncode == 0, result.stdout + result.stderr
    first = done(result)
    assert {name: first[name] for name in ("rows", "accepted", "rejected", "repeated", "superseded", "expired",
                                           "added", "unchanged", "removed", "not_listed")} == {
        "rows": 13, "accepted": 13, "rejected": 0, "repeated": 1, "superseded": 5, "expired": 0,
        "added": 4, "unchanged": 0, "removed": 2, "not_listed": 1}
    assert "repeated 1  superseded 5  expired 0" in result.stdout
    assert read_rejects(tmp_path / "r.csv") == []
    stored = records(tmp_path / "db", secret)
    listed = {phone: [(c.category, c.level) for c in stored.get(key_of(secret, EntityType.PHONE, phone), ())]
              for phone in PHONES}
    assert listed == {s1: [], s2: [(Category.TELECOM_FRAUD, RiskLevel.HIGH)],
                      s3: [(Category.TELECOM_FRAUD, RiskLevel.CRITICAL)], s4: [(Category.MONEY_MULE, RiskLevel.HIGH)],
                      s5: [], s6: [(Category.OTHER, RiskLevel.MEDIUM)]}
    again = done(load(tmp_path, feed, secret_file))
    assert (again["added"], again["unchanged"], again["removed"], again["not_listed"]) == (0, 4, 0, 3)
    assert again["list_version"] == first["list_version"]


def test_expired_rows_are_counted_and_never_added(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """Rows already expired (an explicit past expiry, or an old report's default retention) are not added; as the
    last word for their category they end what the source listed; loading the feed again changes nothing."""
    e1, e2, e3, live = PHONES[:4]
    prior = write_csv(tmp_path / "prior.csv", [_row("add", e3, "telecom_fraud", "high")])
    assert load(tmp_path, prior, secret_file).returncode == 0
    feed = write_csv(tmp_path / "feed.csv", [
        _row("add", e1, "telecom_fraud", "high", "2020-01-01", expires_at="2021-01-01"),
        _row("add", e2, "other", "high", "2019-01-01", expires_at=""),
        _row("add", e3, "telecom_fraud", "high"),
        _row("add", e3, "telecom_fraud", "high", "2020-01-01", expires_at="2021-01-01"),
        _row("add", live, "money_mule", "low"),
    ])
    runs = [done(load(tmp_path, feed, secret_file)) for _ in range(3)]
    counted = ("accepted", "rejected", "superseded", "expired", "added", "unchanged", "removed", "not_listed")
    assert {name: runs[0][name] for name in counted} == {
        "accepted": 5, "rejected": 0, "superseded": 1, "expired": 3, "added": 1, "unchanged": 0, "removed": 1,
        "not_listed": 2}
    for again in runs[1:]:
        assert {name: again[name] for name in counted} == {
            "accepted": 5, "rejected": 0, "superseded": 1, "expired": 3, "added": 0, "unchanged": 1, "removed": 0,
            "not_listed": 3}
        assert again["list_version"] == runs[0]["list_version"]
    stored = records(tmp_path / "db", secret)
    assert set(stored) == {key_of(secret, EntityType.PHONE, live)}


GOOD = "\n".join(
    f"add,ip,10.9.{n // 256}.{n % 256},other,low,2026-01-01," for n in range(40)
).encode() + b"\n"
HEADER = b"action,entity_type,identifier,category,level,reported_at,reference\n"


@pytest.mark.parametrize(
    ("name", "content", "extra", "code", "where", "expected"),
    [
        ("truncated.csv", HEADER + GOOD + b"add,ip,10.8.0.1,oth", (), 3, "rejects",
         "42,row,\"4 fields, but the header has 7 columns; the last line is cut short"),
        ("truncated-quote.csv", HEADER + GOOD + b'add,ip,"10.8', (), 3, "rejects",
         "42,row,unterminated quoted field"),
        ("truncated-snapshot.csv", HEADER + GOOD + b"add,ip,10.8.0.1,oth", ("--mode", "snapshot"), 1,
         "stderr", "line 42: the last line is cut short, so the file looks truncated"),
        ("latin1.csv", HEADER + GOOD + "add,ip,10.8.0.1,other,low,2026-01-01,café\n".encode("latin-1"), (),
         3, "rejects", "42,row,not valid UTF-8 (byte 0xE9"),
        ("utf16.csv", (HEADER + GOOD).decode().encode("utf-16"), (), 1, "stderr",
         "the file is UTF-16, not UTF-8; save it as UTF-8"),
        ("nul.csv", HEADER + GOOD + b"add,ip,1\x000.0.0.1\n", (), 1, "stderr",
         "line 42: the file holds NUL bytes"),
        ("missing.csv", b"action,identifier,level\n" + b"remove,10.0.0.1,1\n", (), 1, "stderr",
         "bad header: missing required column(s) entity_type"),
        ("unknown-column.csv", HEADER.rstrip() + b",colour\n", (), 1, "stderr",
         "unknown column(s) 'colour'"),
        ("semicolons.csv", HEADER.replace(b",", b";"), (), 1, "stderr",
         "optional). Fields must be separated by commas. Nothing was applied.\n"),
        ("bad-header-end.csv", b"alpha,beta\n", (), 1, "stderr",
         "expires_at and reference optional). Does the file start with a header row? Nothing was applied.\n"),
        ("field-count.csv", HEADER + GOOD + b"add,ip,10.8.0.1\n", (), 3, "rejects",
         "42,row,\"3 fields, but the header has 7 columns\""),
        ("empty.csv", b"", (), 1, "stderr",
         "empty.csv: the file is empty (0 bytes): no header and no rows, as an export that wrote nothing leaves"),
        ("empty.jsonl", b"", (), 1, "stderr", "empty.jsonl: the file is empty (0 bytes): no rows"),
        ("blank.csv", b"\n \n", (), 1, "stderr", "blank.csv: no header: the file holds only blank lines"),
        ("oversized-field.csv", HEADER + GOOD + b"add,ip,10.8.0.1,other,low,2026-01-01," + b"r" * 2000
         + b"\n", (), 3, "rejects", "42,reference,oversized: 2000 characters"),
        ("oversized-line.csv", HEADER + GOOD + b"add,ip," + b"9" * 70_000 + b"\n", (), 3, "rejects",
         "42,row,line longer than 65536 bytes"),
        ("enum.csv", HEADER + GOOD + b"add,fax,10.8.0.1,fraud,severe,2026-01-01,\n", ("--max-reject-ratio", "0.1"),
         3, "rejects", "42,entity_type,unknown entity_type 'fax'"),
        ("identifier.csv", HEADER + GOOD + b"add,ip,10.8.0.256,other,low,2026-01-01,\n", (), 3, "rejects",
         "42,identifier,invalid ip identifier: not an IPv4 or IPv6 address"),
        ("province-id.csv", HEADER + GOOD + b"add,id_number,11000119900101001X,other,low,2026-01-01,\n", (), 3,
         "rejects", "42,identifier,invalid id_number identifier: not a valid Chinese resident ID"),
        ("naive.csv", HEADER + GOOD + b"add,ip,10.8.0.1,other,low,2026-01-01T08:00:00,\n", (), 3, "rejects",
         "42,reported_at,a date-time without a UTC offset is ambiguous"),
        ("bad.jsonl", b"".join(b'{"action":"remove","entity_type":"ip","identifier":"10.7.0.%d"}\n' % n
                                for n in range(41)) + b'{"action": "remove",', (), 3, "rejects",
         "42,row,not valid JSON: Expecting property name enclosed in double quotes at column 21; the last"),
    ],
)
def test_bad_input_gets_a_clear_message(
    tmp_path: Path, secret_file: Path, name: str, content: bytes, extra: tuple[str, ...], code: int,
    where: str, expected: str
) -> None:
    """Each kind of bad input gives its exit code and a message naming line, field and reason."""
    feed = tmp_path / name
    feed.write_bytes(content)
    result = load(tmp_path, feed, secret_file, "--rejects", tmp_path / "rejects.csv", *extra)
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    text = (tmp_path / "rejects.csv").read_text() if where == "rejects" else result.stderr
    assert expected in text, text
    if code == 1:
        assert "Nothing was applied." in result.stderr


def test_empty_feeds(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """Empty deltas (a header without rows, blank JSON lines) succeed with 0 rows; an empty snapshot is refused
    unless explicitly allowed."""
    write_csv(tmp_path / "seed.csv", generated_rows(3))
    assert load(tmp_path, tmp_path / "seed.csv", secret_file).returncode == 0
    header_only = write_csv(tmp_path / "header.csv", [])
    (tmp_path / "empty.jsonl").write_bytes(b"\n\n")
    for feed in (header_only, tmp_path / "empty.jsonl"):
        result = load(tmp_path, feed, secret_file)
        assert result.returncode == 0 and done(result)["rows"] == 0
    refused = load(tmp_path, header_only, secret_file, "--mode", "snapshot")
    assert refused.returncode == 1
    assert "--allow-empty-snapshot" in refused.stdout
    assert len(records(tmp_path / "db", secret)) == 3
    wiped = load(tmp_path, header_only, secret_file, "--mode", "snapshot", "--allow-empty-snapshot")
    assert wiped.returncode == 0 and done(wiped)["swept"] == 3
    assert records(tmp_path / "db", secret) == {}


def test_a_zero_byte_feed_is_an_error_in_every_mode(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """A 0-byte file (an export that wrote nothing) applies nothing, in a delta, a snapshot or a dry run: exit 1."""
    write_csv(tmp_path / "seed.csv", generated_rows(3))
    assert load(tmp_path, tmp_path / "seed.csv", secret_file).returncode == 0
    (tmp_path / "empty.csv").write_bytes(b"")
    for extra in ((), ("--mode", "snapshot", "--allow-empty-snapshot"), ("--dry-run",)):
        result = load(tmp_path, tmp_path / "empty.csv", secret_file, *extra)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "the file is empty (0 bytes)" in result.stderr and "Nothing was applied." in result.stderr
    assert len(records(tmp_path / "db", secret)) == 3


def test_rejects_and_logs_never_hold_raw_identifiers(tmp_path: Path, secret_file: Path) -> None:
    """Bad identifiers, misplaced ones and good ones appear nowhere in rejects, stdout or logs."""
    secrets_in_feed = ["10.20.30.999", "mallory@exa mple.com", "+8613912345678", "4111111111111112",
                       "6222000000000007"]
    rows = generated_rows(5) + [
        {"action": "add", "entity_type": "ip", "identifier": secrets_in_feed[0], "category": "other",
         "level": "low", "reported_at": "2026-01-01"},
        {"action": "add", "entity_type": "email", "identifier": secrets_in_feed[1], "category": "other",
         "level": "low", "reported_at": "2026-01-01"},
        {"action": "add", "entity_type": "phone", "identifier": "x", "category": secrets_in_feed[2],
         "level": secrets_in_feed[4], "reported_at": "2026-01-01"},
        {"action": "add", "entity_type": "card", "identifier": secrets_in_feed[3], "category": "other",
         "level": "low", "reported_at": "2026-01-01"},
    ]
    feed = write_csv(tmp_path / "feed.csv", rows)
    result = load(tmp_path, feed, secret_file, "--rejects", tmp_path / "r.csv", "--max-reject-ratio", "1")
    assert result.returncode == 3
    everything = (tmp_path / "r.csv").read_text() + result.stdout + result.stderr
    for raw in secrets_in_feed + [str(row["identifier"]) for row in generated_rows(5)]:
        assert raw not in everything
    assert "<redacted>" in everything


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--source", "Bank A", "--db", "db"), "--source 'Bank A' is not a source id"),
        (("--source", "b" * 65, "--db", "db"), "is not a source id"),
        (("--source", "bank-a", "--db", "db", "--server", "127.0.0.1:1"), "not allowed with argument"),
        (("--source", "bank-a"), "say where to load: --db PATH or --server ADDR"),
        (("--source", "bank-a", "--db", "db", "--max-reject-ratio", "1.5"), "between 0 and 1"),
        (("--source", "bank-a", "--db", "db", "--max-reject-ratio", "lots"), "invalid float value"),
        (("--source", "bank-a", "--db", "db", "--batch-size", "0"), "--batch-size must be from 1"),
        (("--source", "bank-a", "--db", "db", "--mode", "full"), "invalid choice: 'full'"),
        (("--db", "db"), "the following arguments are required: --source"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    """A wrong command line exits 2 with argparse's usage and a message saying what is wrong."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(1))
    result = run_loader(tmp_path, feed, *args)
    assert result.returncode == 2
    assert message in result.stderr and "usage: risklist-load" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_extension_needs_format(tmp_path: Path, secret_file: Path) -> None:
    """A feed named .txt is a usage error unless --format says what it is."""
    feed = tmp_path / "feed.txt"
    write_csv(feed, generated_rows(2))
    refused = load(tmp_path, feed, secret_file)
    assert refused.returncode == 2 and "pass --format csv|jsonl" in refused.stderr
    assert load(tmp_path, feed, secret_file, "--format", "csv").returncode == 0


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("nonexistent-feed", "nope.csv: the feed file does not exist; check the path. Nothing was applied."),
        ("no-secret", "no network secret: pass --secret-file FILE or set RISKLIST_SECRET_FILE"),
        ("bad-config", "is not valid TOML"),
        ("rejects-unwritable", "--rejects: cannot write"),
    ],
)
def test_missing_inputs_exit_1(tmp_path: Path, secret_file: Path, setup: str, message: str) -> None:
    """A feed, secret, config or rejects path that cannot be used exits 1 with a clear message."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(1))
    args: list[object] = [feed, "--source", "bank-a", "--db", tmp_path / "db"]
    if setup == "nonexistent-feed":
        args[0] = tmp_path / "nope.csv"
    if setup != "no-secret":
        args += ["--secret-file", secret_file]
    if setup == "bad-config":
        (tmp_path / "risklist.toml").write_text("retention_days = [")
        args += ["--config", tmp_path / "risklist.toml"]
    if setup == "rejects-unwritable":
        args += ["--rejects", tmp_path / "no-such-dir" / "r.csv"]
    result = run_loader(tmp_path, *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_held_store_is_a_clear_error(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """Loading into a store another process holds exits 1 and says to use --server instead."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(3))
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint):
        result = load(tmp_path, feed, secret_file)
    assert result.returncode == 1
    assert "is held by another process" in result.stderr and "--server ADDR" in result.stderr
    assert "Traceback" not in result.stderr


def test_store_of_another_secret_is_refused(tmp_path: Path, secret_file: Path) -> None:
    """A store built under another network secret is refused before anything is read."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(3))
    assert load(tmp_path, feed, secret_file).returncode == 0
    other = tmp_path / "other.secret"
    write_secret(other, NetworkSecret(bytes.fromhex("ab" * 32)))
    result = load(tmp_path, feed, other)
    assert result.returncode == 1 and "built with another network secret" in result.stderr


def test_unreachable_server_is_a_clear_error(tmp_path: Path, secret_file: Path) -> None:
    """--server pointing at a port nobody listens on exits 1 saying nothing was applied."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    feed = write_csv(tmp_path / "feed.csv", generated_rows(3))
    result = run_loader(tmp_path, feed, "--source", "bank-a", "--server", f"127.0.0.1:{port}", "--insecure",
                        "--secret-file", secret_file, "--connect-timeout", "0.5")
    assert result.returncode == 1
    assert f"cannot reach a risklist server at 127.0.0.1:{port}" in result.stderr
    assert "Nothing was applied" in result.stderr


def test_scratch_files_are_removed(tmp_path: Path, secret_file: Path) -> None:
    """The spool and dedupe index live in a temp dir that is gone after the run."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(5))
    assert load(tmp_path, feed, secret_file).returncode == 0
    assert list((tmp_path / "scratch").iterdir()) == []


@pytest.fixture(scope="module")
def worker_sized_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A feed of over 16 MiB, so pass 1 runs on worker processes."""
    feed = tmp_path_factory.mktemp("workers") / "feed.csv"
    write_generated_csv(feed, generate_rows(200_000, 7))
    return feed


def _session_members(session: int) -> list[int]:
    """The processes (still) in the session `session`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if int(fields[3]) == session:  # after the name: state, ppid, pgrp, session
                members.append(int(entry.name))
    return members


def _command_lines(pids: list[int]) -> list[str]:
    lines = []
    for pid in pids:
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            lines.append(f"{pid} (gone)")
    return lines


def _wait_for_load(process: subprocess.Popen[bytes]) -> list[int]:
    """Wait for a loader started in a session of its own (its exit code into process.returncode); the processes of
    that session still running once it has exited, which are then killed."""
    try:
        if process.returncode is None:
            _, status = os.waitpid(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        return _session_members(process.pid)
    finally:
        for pid in _session_members(process.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("temporary", ["short", "too deep for a unix socket"])
def test_no_process_of_a_load_outlives_it(tmp_path: Path, secret_file: Path, worker_sized_feed: Path,
                                          temporary: str) -> None:
    """Every worker (forked from the loader before it opens the store, whether or not TMPDIR is too deep for a
    worker server's socket) has ended when risklist-load exits: whoever ran it (wait4, /usr/bin/time, systemd)
    accounts for their CPU and memory, and nothing of the load runs on after it."""
    if temporary == "short":
        scratch = Path(tempfile.mkdtemp(prefix="rl-"))
    else:
        scratch = tmp_path / ("d" * 90)
        scratch.mkdir()
    env = loader_env(tmp_path)
    env["TMPDIR"] = str(scratch)
    log = tmp_path / "log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            loader_command(worker_sized_feed, "--source", "bank-a", "--db", tmp_path / "db", "--secret-file",
                           secret_file, "--log-format", "json"),
            env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        _, status = os.waitpid(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        left = _session_members(process.pid)
        assert process.returncode == 0, log.read_text()
        assert left == [], f"processes of the load still running after it exited: {_command_lines(left)}"
        assert "Traceback" not in log.read_text()
        assert list(scratch.iterdir()) == []
    finally:
        for pid in _session_members(process.pid):
            os.kill(pid, signal.SIGKILL)
        if temporary == "short":
            shutil.rmtree(scratch, ignore_errors=True)


def test_scratch_disk_filling_up_under_the_workers_ends_the_load_with_one_clear_error(
        tmp_path: Path, secret: NetworkSecret, secret_file: Path, worker_sized_feed: Path) -> None:
    """Pass 1's workers find --tmp-dir full: the error reaches the loader, which says so in one line (no traceback,
    also none from the worker pool's cleanup at exit), applies nothing and leaves no process running."""
    db = tmp_path / "db"
    log = tmp_path / "log"
    with small_disk(tmp_path / "scratch", size="4m") as disk:
        with log.open("w") as stderr:
            process = subprocess.Popen(
                loader_command(worker_sized_feed, "--source", "bank-a", "--db", db, "--secret-file", secret_file,
                               "--tmp-dir", disk.path),
                env=loader_env(tmp_path), stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        left = _wait_for_load(process)
        assert list(disk.path.iterdir()) == [], "the load's scratch directory was left behind"
    text = log.read_text()
    assert process.returncode == 1, text
    assert "No space left on device" in text and "Traceback" not in text, text
    assert f"the scratch directory {disk.path}" in text and "--tmp-dir" in text
    assert left == [], f"processes of the load still running after it exited: {_command_lines(left)}"
    assert records(db, secret) == {}


def test_a_load_refused_after_its_workers_started_leaves_no_process(
        tmp_path: Path, secret: NetworkSecret, secret_file: Path, worker_sized_feed: Path) -> None:
    """The workers are forked, and validating, before the store is opened: a store held by another process still
    ends the load with its one clear error, and with nothing of the load left running."""
    db = tmp_path / "db"
    log = tmp_path / "log"
    with RiskStore(db, create=True, secret_fingerprint=secret.fingerprint):  # held, as by a running server
        with log.open("w") as stderr:
            process = subprocess.Popen(
                loader_command(worker_sized_feed, "--source", "bank-a", "--db", db, "--secret-file", secret_file),
                env=loader_env(tmp_path), stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        left = _wait_for_load(process)
        assert process.returncode == 1, log.read_text()
        assert "held by another process" in log.read_text() and "Traceback" not in log.read_text()
        assert left == [], f"processes of the load still running after it exited: {_command_lines(left)}"


def test_workers_are_forks_only_where_no_other_thread_runs(tmp_path: Path) -> None:
    """A load's pool may fork this process (its workers start at once, with the loader imported), but only where
    no other thread runs; else its workers come from the worker server."""
    # A fork keeps this process's module state (tempfile.tempdir, set here); other workers start afresh.
    script = (
        "import os, shutil, tempfile, threading\n"
        "from risklist_loader.worker_pool import stop_worker_server, worker_pool\n"
        "marker = tempfile.mkdtemp(prefix='rl-')\n"
        "tempfile.tempdir = marker\n"
        "try:\n"
        "    with worker_pool(1, forked=True) as pool:\n"
        "        alone = pool.submit(tempfile.gettempdir).result() == marker\n"
        "    release = threading.Event()\n"
        "    waiting = threading.Thread(target=release.wait)\n"
        "    waiting.start()\n"
        "    with worker_pool(1, forked=True) as pool:\n"
        "        beside_a_thread = pool.submit(tempfile.gettempdir).result() == marker\n"
        "    release.set()\n"
        "    waiting.join()\n"
        "finally:\n"
        "    stop_worker_server()\n"
        "    shutil.rmtree(marker)\n"
        "print(alone, beside_a_thread)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env=loader_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_a_load_builds_on_the_workers_it_forked_for_pass_1(tmp_path: Path, secret: NetworkSecret,
                                                           secret_file: Path, worker_sized_feed: Path) -> None:
    """Pass 1 and the builders share the workers forked before the store is opened: no worker server is started
    (its imports would take CPU from the workers), and the records are those of a load on one process."""
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    # risklist-load's own main, with builders on every core from the first row and worker_sized_feed's 200k rows.
    script = (
        "import sys\n"
        "from multiprocessing import forkserver\n"
        "from risklist_loader import bulk, cli\n"
        "bulk.PARALLEL_BUILD_MIN = 1\n"
        "started = []\n"
        "original = forkserver.ForkServer.ensure_running\n"
        "def ensure_running(self):\n"
        "    started.append(True)\n"
        "    return original(self)\n"
        "forkserver.ForkServer.ensure_running = ensure_running\n"
        "forkserver.ensure_running = forkserver._forkserver.ensure_running  # the module's alias, spied too\n"
        "code = cli.main(sys.argv[1:])\n"
        "print('worker server started:', bool(started), file=sys.stderr)\n"
        "sys.exit(code)\n")
    arguments = [str(worker_sized_feed), "--source", "bank-a", "--secret-file", str(secret_file), "--log-format",
                 "json"]
    done = subprocess.run([sys.executable, "-c", script, *arguments, "--db", str(shared)], capture_output=True,
                          text=True, timeout=120, env=loader_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "worker server started: False" in done.stderr
    assert '"bulk_built"' in done.stderr and "Traceback" not in done.stderr
    one_builder = load(tmp_path, worker_sized_feed, secret_file, db="alone")  # 200k rows: builds in one process
    assert one_builder.returncode == 0, one_builder.stderr
    assert records(shared, secret) == records(alone, secret) != {}


def test_the_loader_starts_without_importing_what_a_load_into_a_store_does_not_use() -> None:
    """grpc and the protocol (for --server) and tqdm (a progress bar on a terminal) are imported when used: their
    imports (some 40 ms) would come before a load's workers start."""
    probe = ("import sys\nimport risklist_loader.cli\n"
             "print(sorted(m for m in ('grpc', 'google.protobuf', 'tqdm') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_worker_killed_mid_load_ends_the_load_with_one_clear_error(
        tmp_path: Path, secret: NetworkSecret, secret_file: Path, worker_sized_feed: Path) -> None:
    """A worker killed under the loader (the out-of-memory killer, an operator's kill -9) ends the load: one line
    saying so and what to do, nothing applied, no traceback, no process of the load left running."""
    db = tmp_path / "db"
    log = tmp_path / "log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            loader_command(worker_sized_feed, "--source", "bank-a", "--db", db, "--secret-file", secret_file),
            env=loader_env(tmp_path), stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    killed = None
    while killed is None and process.poll() is None:  # the workers live from pass 1's start to the build's end
        members = [pid for pid in _session_members(process.pid) if pid != process.pid]
        workers = [pid for pid, line in zip(members, _command_lines(members), strict=True)
                   if "risklist-load" in line]  # not multiprocessing's resource tracker
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed = workers[0]
    left = _wait_for_load(process)
    text = log.read_text()
    assert killed is not None, "the load ended before a worker could be killed"
    assert process.returncode == 1, text
    assert "a worker process of the load ended unexpectedly" in text and "re-run the same command" in text, text
    assert "Traceback" not in text, text
    assert left == [], f"processes of the load still running after it exited: {_command_lines(left)}"
    assert records(db, secret) == {}
