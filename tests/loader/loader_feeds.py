"""Test helpers: write feeds, run risklist-load as a subprocess, read a store back."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from stdnum import luhn

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.rows import FIELDS
from risklist_server.core.record import Record
from risklist_server.store.risk_store import RiskStore

Row = Mapping[str, object]


def write_csv(path: Path, rows: Iterable[Row], header: Sequence[str] = FIELDS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({name: row.get(name, "") for name in header})
    return path


def write_jsonl(path: Path, rows: Iterable[Row]) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps(dict(row)) + "\n")
    return path


def loader_env(tmp_path: Path) -> dict[str, str]:
    """The environment for a loader subprocess: no inherited secret, scratch files in tmp_path."""
    env = {key: value for key, value in os.environ.items() if key != "RISKLIST_SECRET_FILE"}
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    env["TMPDIR"] = str(scratch)
    return env


def loader_command(*args: object) -> list[str]:
    """risklist-load as installed (its console script)."""
    return [str(Path(sys.executable).parent / "risklist-load"), *(str(arg) for arg in args)]


def run_loader(tmp_path: Path, *args: object, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run risklist-load to completion (JSON logs, no progress bar), capturing its output."""
    return subprocess.run(
        loader_command(*args, "--log-format", "json"),
        capture_output=True,
        text=True,
        env=loader_env(tmp_path),
        timeout=timeout,
        check=False,
    )


def records(db: Path, secret: NetworkSecret) -> dict[bytes, Record]:
    """Every record in the store, by key."""
    with RiskStore(db, create=True, secret_fingerprint=secret.fingerprint) as store:
        return dict(store.iter_records())


def key_of(secret: NetworkSecret, entity_type: EntityType, raw: str) -> bytes:
    """The storage key the loader computes for a raw identifier."""
    canonical = Normaliser("CN").normalise(entity_type, raw)
    return Digester(secret).storage_key(entity_type, canonical)


def card_number(seed: int) -> str:
    """A 16-digit card number with a valid Luhn check digit."""
    body = f"4{seed:014d}"
    return body + luhn.calc_check_digit(body)


def generated_rows(count: int, *, start: int = 0, level: str = "high") -> list[dict[str, object]]:
    """`count` distinct valid add rows (accounts, cards, IPs, emails), deterministic, live until 2036 (a load counts
    an add already expired as such, and a default retention would make the tests' counts depend on the date)."""
    rows: list[dict[str, object]] = []
    for number in range(start, start + count):
        kind = number % 4
        entity_type, identifier = [
            ("account", f"{6_222_000_000 + number}"),
            ("card", card_number(number)),
            ("ip", f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"),
            ("email", f"user{number}@example.com"),
        ][kind]
        rows.append({
            "action": "add",
            "entity_type": entity_type,
            "identifier": identifier,
            "category": ["money_mule", "telecom_fraud", "scam_merchant", "other"][number % 4],
            "level": level,
            "reported_at": f"2026-01-{1 + number % 28:02d}T08:00:00+08:00",
            "expires_at": f"2036-01-{1 + number % 28:02d}T08:00:00+08:00",  # no default retention: never expired
            "reference": f"case-{number}",
        })
    return rows
