"""seeds/: the committed feeds are exactly what seeds/generate.py writes, and they hold what the demo needs."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser
from tests.support.paths import REPO

SEEDS = REPO / "seeds"
DEMO_PHONE = "+8613800138000"
NORMALISER = Normaliser("CN")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh run of the generator into a temporary directory."""
    out = tmp_path_factory.mktemp("seeds")
    subprocess.run(
        [sys.executable, str(SEEDS / "generate.py"), "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


def committed_outputs() -> list[str]:
    """Every file in seeds/ except the generator itself."""
    return sorted(p.name for p in SEEDS.iterdir() if p.is_file() and p.name != "generate.py")


def test_generator_output_is_byte_identical_to_the_committed_seeds(regenerated: Path) -> None:
    """Regenerating gives exactly the committed files, byte for byte, and no others."""
    assert sorted(p.name for p in regenerated.iterdir()) == committed_outputs()
    for name in committed_outputs():
        assert (regenerated / name).read_bytes() == (SEEDS / name).read_bytes(), f"seeds/{name} drifted"


def feed_rows(path: Path) -> list[tuple[int, dict[str, object]]]:
    """(physical line, row) for every data row of a CSV or JSONL feed."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return [(index + 2, dict(row)) for index, row in enumerate(csv.DictReader(handle))]
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(index + 1, json.loads(line)) for index, line in enumerate(lines)]


def documented_bad_lines() -> dict[str, set[int]]:
    """file name -> the line numbers seeds/README.md lists as deliberately bad."""
    found: dict[str, set[int]] = {}
    pattern = re.compile(r"^\| `([\w.-]+\.(?:csv|jsonl))` \| (\d+) \|", re.MULTILINE)
    for name, line in pattern.findall((SEEDS / "README.md").read_text(encoding="utf-8")):
        found.setdefault(name, set()).add(int(line))
    return found


FEEDS = sorted(p.name for p in SEEDS.glob("*.csv")) + sorted(p.name for p in SEEDS.glob("*.jsonl"))


def test_three_banks_each_in_both_formats() -> None:
    """Each of the three fictional banks has a CSV and a JSONL feed."""
    banks = {"east-harbour-bank", "jade-river-bank", "north-plains-credit"}
    assert sorted(f"{b}.csv" for b in banks) + sorted(f"{b}.jsonl" for b in banks) == FEEDS


@pytest.mark.parametrize("name", FEEDS)
def test_rows_outside_the_documented_bad_lines_are_valid(name: str) -> None:
    """Every row not listed as bad has a valid action, type, identifier, category and level."""
    bad = documented_bad_lines()[name]
    rows = feed_rows(SEEDS / name)
    assert 2 <= len(bad) <= 6 and len(bad) / len(rows) < 0.05  # a repeated row is not bad (docs/feeds.md §4)
    for line, row in rows:
        if line in bad:
            continue
        entity_type = EntityType.from_feed_name(str(row["entity_type"]))
        NORMALISER.normalise(entity_type, str(row["identifier"]))
        assert row["action"] in ("add", "remove"), line
        if row["action"] == "add":
            Category.from_feed_name(str(row["category"]))
            RiskLevel.parse(str(row["level"]))
            assert len(str(row.get("reference") or "")) <= 64, line


def test_demo_phone_is_listed_high_by_two_banks_and_never_removed() -> None:
    """`make serve`'s example phone is added high/critical by at least two banks and removed by none."""
    listing_banks = set()
    for name in FEEDS:
        for _, row in feed_rows(SEEDS / name):
            if row["entity_type"] != "phone":
                continue
            try:
                canonical = NORMALISER.normalise(EntityType.PHONE, str(row["identifier"]))
            except InvalidIdentifier:
                continue
            if canonical != DEMO_PHONE:
                continue
            assert row["action"] == "add", f"{name} removes the demo phone"
            assert RiskLevel.parse(str(row["level"])) >= RiskLevel.HIGH
            listing_banks.add(name.split(".")[0])
    assert len(listing_banks) >= 2
