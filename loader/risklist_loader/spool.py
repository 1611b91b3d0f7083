"""The spool: validated rows in compact binary scratch files, in feed order, read back as columns.

A spool is a pair of files: `PATH` holds one fixed-size entry per accepted row (storage key, action,
category, feed line, tail length) and `PATH.tail` the variable part of each add (the record
encoding of its contribution without the source: category, level, reported_at, expires_at,
reference). An add already expired when the load started is spooled as EXPIRED, with its tail: it
takes its place in the feed's order (risklist_loader.feed_order) and, applied, ends the source's
listing of its category instead of adding it. Fixed-size entries let later stages read a spool as
numpy columns (risklist_loader.buckets redistributes them by key range); the tail is exactly what
risklist_server.core.record stores (its contribution_tail; record_prefix gives the header and
source), so a record is a header, the source and the tails. The byte layout is core.record's alone.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from risklist_kernel.digest import KEY_SIZE
from risklist_server.core.mutation import Mutation, Upsert
from risklist_server.core.record import contribution_tail

ADD = 1
REMOVE = 2
EXPIRED = 3
"""An add row whose expires_at had passed when the load started: applied as a removal of its category."""
ENTRY = struct.Struct(f"<{KEY_SIZE}sBBqH")
"""Storage key, action, category (0: every category), feed line, tail length in bytes."""
ENTRY_DTYPE = np.dtype(
    [("key", f"S{KEY_SIZE}"), ("action", "u1"), ("category", "u1"), ("line", "<i8"), ("tail", "<u2")]
)
_BUFFER_BYTES = 1024 * 1024


def key_list(keys: npt.NDArray[np.bytes_]) -> list[bytes]:
    """Storage keys of a fixed-width column as bytes of KEY_SIZE each (numpy's own tolist drops trailing zero bytes)."""
    joined = np.ascontiguousarray(keys).tobytes()
    return [joined[start : start + KEY_SIZE] for start in range(0, len(joined), KEY_SIZE)]


def tail_path(path: Path) -> Path:
    """Where the tails of the spool at `path` go."""
    return path.with_name(path.name + ".tail")


@dataclass(frozen=True, slots=True)
class Batch:
    """Spooled mutations in feed order (a held group at its last row), applied atomically; `number` counts from 1;
    `first_line` and `last_line` are the lowest and highest feed line it holds."""

    number: int
    first_line: int
    last_line: int
    mutations: list[Mutation]


class SpoolWriter:
    """Appends mutations; the files hold nothing but what validation accepted."""

    def __init__(self, path: Path) -> None:
        self._start(path, path.open("wb", buffering=_BUFFER_BYTES),
                    tail_path(path).open("wb", buffering=_BUFFER_BYTES))

    def _start(self, path: Path, entries: BinaryIO, tails: BinaryIO) -> None:
        self.path = path
        self.count = 0
        self._entries = entries
        self._tails = tails

    def write(self, line: int, mutation: Mutation, *, expired: bool = False) -> None:
        """Append one row's mutation; `expired`: an upsert whose contribution has already expired."""
        if isinstance(mutation, Upsert):
            tail = contribution_tail(mutation.contribution)
            self.write_raw(mutation.key, EXPIRED if expired else ADD, mutation.contribution.category, line, tail)
        else:
            self.write_raw(mutation.key, REMOVE, mutation.category or 0, line, b"")

    def write_raw(self, key: bytes, action: int, category: int, line: int, tail: bytes) -> None:
        """Append one entry whose tail is already encoded (the fast path's way)."""
        self._entries.write(ENTRY.pack(key, action, category, line, len(tail)))
        if tail:
            self._tails.write(tail)
        self.count += 1

    def write_columns(self, keys: bytes, actions: npt.NDArray[np.uint8], categories: npt.NDArray[np.uint8],
                      lines: npt.NDArray[np.int64], tail_lengths: npt.NDArray[np.int64], tails: bytes) -> None:
        """Append many entries at once, in feed order: their keys concatenated, their columns, and their
        already encoded tails concatenated (a vectorised path's way)."""
        entries = np.empty(len(actions), dtype=ENTRY_DTYPE)
        entries["key"] = np.frombuffer(keys, dtype=f"S{KEY_SIZE}")
        entries["action"] = actions
        entries["category"] = categories
        entries["line"] = lines
        entries["tail"] = tail_lengths
        self._entries.write(entries.tobytes())
        self._tails.write(tails)
        self.count += len(entries)

    def close(self) -> None:
        self._entries.close()
        self._tails.close()


def read_entries(path: Path) -> npt.NDArray[np.void]:
    """Every entry of one spool as a structured array (fields key, action, category, line, tail)."""
    return np.fromfile(path, dtype=ENTRY_DTYPE)
