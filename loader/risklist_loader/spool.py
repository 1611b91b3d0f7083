"""The spool: validated rows in compact binary scratch files, replayed in batches or read as columns.

A spool is a pair of files: `PATH` holds one fixed-size entry per accepted row (storage key, action,
category, feed line, tail length) and `PATH.tail` the variable part of each add (the record
encoding of its contribution without the source: category, level, reported_at, expires_at,
reference). An add already expired when the load started is spooled as EXPIRED, with its tail: it
takes its place in the feed's order (risklist_loader.feed_order) and, applied, ends the source's
listing of its category instead of adding it. Fixed-size entries let the bulk path read a whole
spool as numpy columns; the tail is exactly what risklist_server.core.record stores (its
contribution_tail; record_prefix gives the header and source), so a record is a header, the source
and the tails. The byte layout is core.record's alone.
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
EXPIRED = 3
"""An add row whose expires_at had passed when the load started: applied as a removal of its category."""
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
    """Spooled mutations in feed order (a held group at its last row), applied atomically; `number` counts from 1;
    `first_line` and `last_line` are the lowest and highest feed line it holds."""

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

    def write_many(self, keys: Sequence[bytes], actions: Sequence[int], categories: Sequence[int],
                   lines: Sequence[int], tails: Sequence[bytes]) -> None:
        """Append many entries whose tails are already encoded, in feed order (a vectorised path's way)."""
        write = self.write_raw
        for key, action, category, line, tail in zip(keys, actions, categories, lines, tails, strict=True):
            write(key, action, category, line, tail)

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


class SpoolTails:
    """The tails of spooled rows by position (the order of read_all_entries), read on demand."""

    def __init__(self, paths: Sequence[Path], lengths: npt.NDArray[np.uint16]) -> None:
        self._paths = list(paths)
        self._lengths = lengths
        self._offsets: npt.NDArray[np.int64] | None = None
        self._firsts = np.cumsum([0] + [path.stat().st_size // ENTRY.size for path in self._paths], dtype=np.int64)
        self._data: list[bytes] = []

    def same(self, first: int, second: int) -> bool:
        """Whether the rows at two positions have byte-identical tails."""
        if self._lengths[first] != self._lengths[second]:
            return False
        return self.tail(first) == self.tail(second)

    def tail(self, position: int) -> bytes:
        """The tail of the row at `position` (b"" for a remove)."""
        if self._offsets is None:  # loaded on first use: most feeds never compare two tails
            self._offsets = np.zeros(len(self._lengths) + 1, dtype=np.int64)
            np.cumsum(self._lengths, out=self._offsets[1:])
            self._data = [tail_path(path).read_bytes() for path in self._paths]
        spool = int(np.searchsorted(self._firsts, position, side="right")) - 1
        start = int(self._offsets[position] - self._offsets[self._firsts[spool]])
        return self._data[spool][start : start + int(self._lengths[position])]


def read_batches(
    paths: Path | Sequence[Path],
    source: str,
    size: int,
    skip: npt.NDArray[np.int64] | None = None,
    held: npt.NDArray[np.int64] | None = None,
) -> Iterator[Batch]:
    """The spooled rows' mutations for `source`, in feed order, `size` at a time.

    `paths` are read one after another. Entries whose feed line is in the sorted array `skip` (rows
    a later one supersedes, or repeats; known only once every row is validated) are left out. An
    EXPIRED entry is a removal of its category. Entries whose line is in the sorted array `held` wait
    for the next applied row of their storage key and go into its batch with it: a group is never
    split, so a batch holds more than `size` mutations only when one group alone is longer.
    """
    skipped = np.zeros(0, dtype=np.int64) if skip is None else skip
    holding = np.zeros(0, dtype=np.int64) if held is None else held
    next_skip = next_held = 0
    waiting: dict[bytes, list[tuple[int, Mutation]]] = {}
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
                mutation: Mutation
                if action == ADD:
                    mutation = Upsert(key, contribution_from_tail(source, tail))
                else:
                    mutation = Removal(key, source, Category(category) if category else None)
                while next_held < len(holding) and holding[next_held] < line:
                    next_held += 1
                if next_held < len(holding) and holding[next_held] == line:
                    waiting.setdefault(key, []).append((line, mutation))
                    continue
                group = waiting.pop(key, None) if waiting else None
                if group is None:
                    if not mutations:
                        first_line = line
                    last_line = line
                    mutations.append(mutation)
                else:
                    group.append((line, mutation))
                    if mutations and len(mutations) + len(group) > size:
                        number += 1
                        yield Batch(number, first_line, last_line, mutations)
                        mutations = []
                    if not mutations:
                        first_line = last_line = group[0][0]
                    first_line = min(first_line, group[0][0])
                    last_line = max(last_line, line)
                    mutations.extend(member for _, member in group)
                if len(mutations) >= size:
                    number += 1
                    yield Batch(number, first_line, last_line, mutations)
                    mutations = []
    for group in waiting.values():  # held rows whose group never closed (not made by feed_order): still applied
        if not mutations:
            first_line = last_line = group[0][0]
        first_line = min(first_line, group[0][0])
        last_line = max(last_line, group[-1][0])
        mutations.extend(member for _, member in group)
    if mutations:
        yield Batch(number + 1, first_line, last_line, mutations)
