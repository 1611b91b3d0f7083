"""risklist-load on a full disk: one clear line, no scratch left behind, and a re-run completes."""

from __future__ import annotations

from pathlib import Path

import pytest
from loader_feeds import generated_rows, records, run_loader, write_csv

from risklist_kernel.secret import NetworkSecret
from tests.support.small_disk import small_disk

ROWS = 40_000


@pytest.mark.parametrize("path", ["batch", "bulk"])
def test_a_full_disk_fails_with_one_line_and_a_rerun_completes(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret, path: str
) -> None:
    """A load that fills the disk says so in one line without a traceback, leaves no .tmp or
    bulk-ingest-* scratch in the store, and the same command completes once space is freed."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(ROWS))
    bulk_min_rows = "0" if path == "bulk" else str(10 * ROWS)
    with small_disk(tmp_path / "disk") as disk:
        db = disk.path / "db"
        command = (feed, "--source", "east-harbour-bank", "--db", db, "--secret-file", secret_file,
                   "--bulk-min-rows", bulk_min_rows)
        failed = run_loader(tmp_path, *command)
        assert failed.returncode == 1, failed.stderr
        assert "Traceback" not in failed.stderr
        errors = [line for line in failed.stderr.splitlines() if line.startswith("risklist-load: error:")]
        assert len(errors) == 1 and "No space left on device" in errors[0], failed.stderr
        assert disk.leftovers(db) == []

        disk.free()
        rerun = run_loader(tmp_path, *command)
        assert rerun.returncode == 0, rerun.stderr
        assert len(records(db, secret)) == ROWS
