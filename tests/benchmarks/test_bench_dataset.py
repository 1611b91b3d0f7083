"""Benchmark data helpers: size labels, private store copies, live-feed samples, RESULTS.md sections."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from benchmarks import datagen
from benchmarks.dataset import Dataset, copy_store, count_label
from benchmarks.harness import BEGIN, END, update_results_md
from benchmarks.scenarios.live_load import sample_rows


def test_count_labels() -> None:
    """Round millions and thousands get short labels; other counts stay digits."""
    assert (count_label(10_000_000), count_label(200_000), count_label(1234)) == ("10m", "200k", "1234")


def test_dataset_paths_are_keyed_by_size_seed_and_anchor_month(tmp_path: Path) -> None:
    """Feed and store names carry the size, the seed and the month datagen dates its rows by (cached data of
    another month is not reused); the secret is the same for the same seed."""
    first, second = Dataset(200_000, 1, root=tmp_path), Dataset(1_000_000, 1, root=tmp_path)
    month = f"{datagen.ANCHOR:%Y%m}"
    assert first.feed.name == f"feed-200k-seed1-{month}.csv" and second.store.name == f"store-1m-seed1-{month}"
    assert first.secret.key == second.secret.key != Dataset(10, 2, root=tmp_path).secret.key
    assert first.secret_file.read_text().strip() == first.secret.key.hex()


def test_store_copy_links_sst_files_and_copies_the_rest(tmp_path: Path) -> None:
    """SST files are hard links (same inode); every other file is a copy the copy may change alone."""
    source = tmp_path / "store"
    source.mkdir()
    (source / "000012.sst").write_bytes(b"sst")
    (source / "MANIFEST-000005").write_bytes(b"manifest")
    copy = copy_store(source, tmp_path / "copy")
    assert os.stat(copy / "000012.sst").st_ino == os.stat(source / "000012.sst").st_ino
    assert os.stat(copy / "MANIFEST-000005").st_ino != os.stat(source / "MANIFEST-000005").st_ino
    (copy / "MANIFEST-000005").write_bytes(b"changed")
    assert (source / "MANIFEST-000005").read_bytes() == b"manifest"


def test_live_sample_takes_unexpired_rows_spread_over_the_feed(tmp_path: Path) -> None:
    """Only rows expiring a month or more after today are sampled, the feed's last such row first."""
    feed = tmp_path / "feed.csv"
    lines = ["action,entity_type,identifier,category,level,reported_at,expires_at,reference"]
    for n in range(10):
        expires = "2030-01-01" if n % 2 else ""
        lines.append(f"add,account,ACC{n:04d},money_mule,high,2026-01-01,{expires},")
    lines.append("add,card,4111111111111111,other,low,2025-01-01,2026-12-01,")  # expires within the month
    feed.write_text("\n".join(lines) + "\n")
    sample = sample_rows(feed, 3, today=date(2026, 11, 23))
    assert sample == [("account", "ACC0009"), ("account", "ACC0007"), ("account", "ACC0005")]


def test_results_md_section_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    """The harness section is appended once, then replaced in place; other sections stay as they were."""
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## Bloom front\n\nkept text\n")
    update_results_md("first table\n", path)
    update_results_md("second table\n", path)
    text = path.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "kept text" in text and "second table" in text and "first table" not in text
    assert text.index("## Bloom front") < text.index(BEGIN)
