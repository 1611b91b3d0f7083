"""Exact duplicate detection in bounded memory: a scratch RocksDB of first-seen line numbers."""

from __future__ import annotations

from pathlib import Path

from rocksdict import Options, Rdict, WriteOptions

_MEMTABLE_BYTES = 32 * 1024 * 1024


class DedupeIndex:
    """Maps a row's dedupe key to the line that first used it; lives in a scratch directory."""

    def __init__(self, path: Path) -> None:
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_write_buffer_size(_MEMTABLE_BYTES)
        self._db = Rdict(str(path), options=options)
        write_options = WriteOptions()
        # Scratch data: a crash discards the whole directory, so skip the write-ahead log.
        # (A property at run time; the bundled stub wrongly declares a method.)
        setattr(write_options, "disable_wal", True)  # noqa: B010
        self._db.set_write_options(write_options)

    def first_line(self, key: bytes, line: int) -> int | None:
        """The line that first used `key`; None (and `line` remembered) when it is new."""
        seen = self._db.get(key)
        if seen is not None:
            return int.from_bytes(seen, "little")
        self._db[key] = line.to_bytes(8, "little")
        return None

    def close(self) -> None:
        self._db.close()
