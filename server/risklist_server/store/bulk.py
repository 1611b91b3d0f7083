"""Bulk building blocks: sorted SST files of records, changelog entries and a Bloom front, all for many keys.

RiskStore.bulk_ingest puts them together in the order that keeps a kill -9 harmless: changelog
entries first (a key listed in the changelog but absent is only a false positive for a front),
then the SST files in one atomic ingestion, then the new front.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rocksdict import IngestExternalFileOptions, Rdict, SstFileWriter, WriteBatch

from risklist_kernel.digest import KEY_SIZE
from risklist_server.store.changelog import LISTED, entry_header, sequence_key
from risklist_server.store.rocks import CHANGELOG_CF, records_options

CHANGES_PER_ENTRY = 20_000
"""Keys per bulk changelog entry (360 KB): catching up stays a stream of modest values."""

SST_TARGET_ENTRIES = 4_000_000
"""Start a new SST file after this many entries (some 250 MB of records)."""

BULK_DIR_PREFIX = "bulk-ingest-"


def bulk_dir(store_path: Path, tag: str) -> Path:
    """A fresh scratch directory for SST files inside the store (so ingestion can hard-link them)."""
    path = store_path / f"{BULK_DIR_PREFIX}{tag}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir()
    return path


def remove_bulk_dirs(store_path: Path) -> None:
    """Delete SST scratch directories an interrupted bulk load left in the store."""
    for path in store_path.glob(f"{BULK_DIR_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


class SstWriter:
    """Writes (key, value) pairs in ascending key order into one or more SST files."""

    def __init__(self, directory: Path, prefix: str = "records") -> None:
        self._directory = directory
        self._prefix = prefix
        self._options = records_options()
        self._writer: SstFileWriter | None = None
        self._roll_at = 0
        self.paths: list[Path] = []
        self.count = 0

    def put(self, key: bytes, value: bytes) -> None:
        """Add a record; keys must come in ascending byte order."""
        self._open_writer()[key] = value
        self.count += 1

    def put_many(self, keys: Sequence[bytes], values: Sequence[bytes]) -> None:
        """Add records (keys ascending, after any added before), as put() one by one would, in fewer calls."""
        done = 0
        while done < len(keys):
            writer = self._open_writer()
            last = min(len(keys), done + self._roll_at - self.count)
            for key, value in zip(keys[done:last], values[done:last], strict=True):
                writer[key] = value
            self.count += last - done
            done = last

    def delete(self, key: bytes) -> None:
        """Add a deletion (tombstone); keys must come in ascending byte order."""
        del self._open_writer()[key]
        self.count += 1

    def _open_writer(self) -> SstFileWriter:
        """The file the next entry goes to: the current one, or a new one once it holds SST_TARGET_ENTRIES."""
        if self._writer is None or self.count >= self._roll_at:
            return self._next_file()
        return self._writer

    def _next_file(self) -> SstFileWriter:
        self._finish_file()
        path = self._directory / f"{self._prefix}-{len(self.paths):05d}.sst"
        writer = SstFileWriter(options=self._options)
        writer.open(str(path))
        self._writer = writer
        self._roll_at = self.count + SST_TARGET_ENTRIES
        self.paths.append(path)
        return writer

    def _finish_file(self) -> None:
        if self._writer is not None:
            self._writer.finish()
            self._writer = None

    def finish(self) -> list[Path]:
        """Close the last file; return every file written, in key order."""
        self._finish_file()
        return list(self.paths)


def changelog_values(keys: npt.NDArray[np.uint8], listed: npt.NDArray[np.bool_] | None = None,
                     per_entry: int = CHANGES_PER_ENTRY, written_at: int | None = None) -> Iterator[bytes]:
    """Encoded changelog entries (risklist_server.store.changelog) for `keys` (n x 17 bytes), `per_entry` each,
    stamped `written_at` (Unix seconds; None: now, which the changelog's retention by age counts from)."""
    header = entry_header(int(time.time()) if written_at is None else written_at)
    count = len(keys)
    for start in range(0, count, per_entry):
        part = keys[start : start + per_entry]
        rows = np.empty((len(part), 1 + KEY_SIZE), dtype=np.uint8)
        rows[:, 0] = LISTED if listed is None else listed[start : start + per_entry].astype(np.uint8)
        rows[:, 1:] = part
        yield header + rows.tobytes()


def append_changelog(db: Rdict, values: Iterable[bytes], after: int) -> Iterator[int]:
    """Write encoded changelog entries one by one after sequence `after`; yield each one's sequence once written."""
    handle = db.get_column_family_handle(CHANGELOG_CF)
    sequence = after
    for value in values:
        batch = WriteBatch(raw_mode=True)
        batch.put(sequence_key(sequence + 1), value, handle)
        db.write(batch)
        sequence += 1
        yield sequence


def ingest_files(db: Rdict, sst_paths: Sequence[Path]) -> None:
    """Move sorted SST files into the records in one atomic ingestion (none: nothing happens)."""
    if sst_paths:
        options = IngestExternalFileOptions()
        options.set_move_files(True)
        db.ingest_external_file([str(path) for path in sst_paths], options)
