"""The spool: validated mutations in compact binary scratch files, replayed in batches or read as columns.

A spool is a pair of files: `PATH` holds one fixed-size entry per mutation (storage key, action,
category, feed line, tail length) and `PATH.tail` the variable part of each upsert (the record
encoding of its contribution without the source: category, level, reported_at, expires_at,
reference). Fixed-size entries let the bulk path read a whole spool as numpy columns; the tail is
exactly what risklist_server.core.record stores (its contribution_tail; record_prefix gives the header and
source), so a record is a header, the source and the tails. The byte layout is core.record's alone.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from risklist_kernel.digest import KEY_SIZE
from risklist_kernel.enums import Category
from risklist_server.core.mutation import Mutation, Removal, Upsert
from risklist_server.core.record import contribution_from_tail, contribution_tail

ADD = 1
REMOVE = 2
ENTRY = struct.Struct(f"<{KEY_SIZE}sBBqH")
"""Storage key, action, category (0: every category), feed line, tail length in bytes."""
ENTRY_DTYPE = np.dtype(
    [("key", f"S{KEY_SIZE}"), ("action", "u1"), ("category", "u1"), ("line", "<i8"), ("tail", "<u2")]
)
_BUFFER_BYTES = 1024 * 1024


def tail_path(path: Path) -> Path:
    """Where the tails of the spool at `path` go."""
    return path.with_name(path.name + ".tail")


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive spooled mutations, applied atomically; `number` counts from 1."""

    number: int
    first_line: int
    last_line: int
    mutations: list[Mutation]


class SpoolWriter:
    """Appends mutations; the files hold nothing but what validation accepted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._entries: BinaryIO = path.open("wb", buffering=_BUFFER_BYTES)
        self._tails: BinaryIO = tail_path(path).open("wb", buffering=_BUFFER_BYTES)

    def write(self, line: int, mutation: Mutation) -> None:
        if isinstance(mutation, Upsert):
            tail = contribution_tail(mutation.contribution)
            self.write_raw(mutation.key, ADD, mutation.contribution.category, line, tail)
        else:
            self.write_raw(mutation.key, REMOVE, mutation.category or 0, line, b"")

    def write_raw(self, key: bytes, action: int, category: int, line: int, tail: bytes) -> None:
        """Append one entry whose tail is already encoded (the fast path's way)."""
        self._entries.write(ENTRY.pack(key, action, category, line, len(tail)))
        if tail:
            self._tails.write(tail)
        self.count += 1

    def close(self) -> None:
        self._entries.close()
        self._tails.close()


def read_entries(path: Path) -> npt.NDArray[np.void]:
    """Every entry of one spool as a structured array (fields key, action, category, line, tail)."""
    return np.fromfile(path, dtype=ENTRY_DTYPE)


def read_all_entries(paths: Sequence[Path]) -> npt.NDArray[np.void]:
    """The entries of several spools, one after another, read straight into one array."""
    counts = [path.stat().st_size // ENTRY_DTYPE.itemsize for path in paths]
    entries = np.empty(sum(counts), dtype=ENTRY_DTYPE)
    position = 0
    for path, count in zip(paths, counts, strict=True):
        with path.open("rb") as handle:
            if handle.readinto(entries[position : position + count].view(np.uint8).data) != count * ENTRY.size:
                raise OSError(f"the spool {path} changed while it was read")
        position += count
    return entries


def read_batches(
    paths: Path | Sequence[Path], source: str, size: int, skip: npt.NDArray[np.int64] | None = None
) -> Iterator[Batch]:
    """The spooled mutations for `source`, in feed order, `size` at a time.

    `paths` are read one after another; entries whose feed line is in the sorted array `skip`
    (later duplicates, known only once every row is validated) are left out.
    """
    skipped = np.zeros(0, dtype=np.int64) if skip is None else skip
    next_skip = 0
    number = 0
    mutations: list[Mutation] = []
    first_line = last_line = 0
    for path in [paths] if isinstance(paths, Path) else paths:
        with path.open("rb", buffering=_BUFFER_BYTES) as entries, \
                tail_path(path).open("rb", buffering=_BUFFER_BYTES) as tails:
            while header := entries.read(ENTRY.size):
                key, action, category, line, length = ENTRY.unpack(header)
                tail = tails.read(length) if length else b""
                while next_skip < len(skipped) and skipped[next_skip] < line:
                    next_skip += 1
                if next_skip < len(skipped) and skipped[next_skip] == line:
                    continue
                if action == ADD:
                    mutations.append(Upsert(key, contribution_from_tail(source, tail)))
                else:
                    mutations.append(Removal(key, source, Category(category) if category else None))
                if len(mutations) == 1:
                    first_line = line
                last_line = line
                if len(mutations) == size:
                    number += 1
                    yield Batch(number, first_line, last_line, mutations)
                    mutations = []
    if mutations:
        yield Batch(number + 1, first_line, last_line, mutations)
