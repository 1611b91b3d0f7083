"""The spool: validated mutations in a compact binary temp file, replayed in batches."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from server.core.digest import KEY_SIZE
from server.core.enums import Category, RiskLevel
from server.core.mutation import Mutation, Removal, Upsert
from server.core.record import Contribution

_ADD = 1
_REMOVE = 2
# action, feed line, storage key, category (0: all), level, reported_at, expires_at,
# reference length (u16: 64 characters may take 256 bytes); the reference's UTF-8 bytes follow.
_ENTRY = struct.Struct(f"<BQ{KEY_SIZE}sBBqqH")
_BUFFER_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive spooled mutations, applied atomically; `number` counts from 1."""

    number: int
    first_line: int
    last_line: int
    mutations: list[Mutation]


class SpoolWriter:
    """Appends mutations; the file holds nothing but what validation accepted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file: BinaryIO = path.open("wb", buffering=_BUFFER_BYTES)

    def write(self, line: int, mutation: Mutation) -> None:
        if isinstance(mutation, Upsert):
            contribution = mutation.contribution
            reference = contribution.reference.encode("utf-8")
            self._file.write(
                _ENTRY.pack(_ADD, line, mutation.key, contribution.category, contribution.level,
                            contribution.reported_at, contribution.expires_at, len(reference))
            )
            self._file.write(reference)
        else:
            self._file.write(
                _ENTRY.pack(_REMOVE, line, mutation.key, mutation.category or 0, 0, 0, 0, 0)
            )
        self.count += 1

    def close(self) -> None:
        self._file.close()


def read_batches(path: Path, source: str, size: int) -> Iterator[Batch]:
    """The spooled mutations for `source`, in feed order, `size` at a time."""
    with path.open("rb", buffering=_BUFFER_BYTES) as spool:
        number = 0
        mutations: list[Mutation] = []
        first_line = last_line = 0
        while header := spool.read(_ENTRY.size):
            (action, line, key, category, level, reported_at, expires_at,
             length) = _ENTRY.unpack(header)
            if action == _ADD:
                reference = spool.read(length).decode("utf-8")
                contribution = Contribution(source, Category(category), RiskLevel(level),
                                            reported_at, expires_at, reference)
                mutations.append(Upsert(key, contribution))
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
