"""Persisting the Bloom front with the changelog sequence it covers (atomic replace, checksummed)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from risklist_kernel.bloom import BITS_PER_MASK
from risklist_server.core.errors import StoreError
from risklist_server.store.front import BloomFront

MAGIC = b"RLBF"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sHBBQQQ32s")  # magic, version, k, spare, words, covered, added, sha256


@dataclass(frozen=True, slots=True)
class SavedFront:
    front: BloomFront
    covered_sequence: int


def save_front(path: Path, front: BloomFront, covered_sequence: int) -> None:
    """Write atomically: temp file, fsync, rename, fsync the directory.

    A failed write (a full disk) leaves the previous file as it was and no temp file behind, and
    raises StoreError with one line saying what to do.
    """
    body = front.to_bytes()
    header = _HEADER.pack(
        MAGIC, FORMAT_VERSION, BITS_PER_MASK, 0, front.word_count, covered_sequence,
        front.added, hashlib.sha256(body).digest(),
    )
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(header)
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StoreError(
            f"cannot save the Bloom front in {path.parent}: {error.strerror or error}; free space on "
            "that disk, then re-run (the store itself is intact; the front is rebuilt if it is stale)"
        ) from None
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_front(path: Path) -> SavedFront | None:
    """The saved front, or None when absent, of another format, or failing its checksum."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < _HEADER.size:
        return None
    magic, version, bits, _, words, covered, added, checksum = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if (
        magic != MAGIC
        or version != FORMAT_VERSION
        or bits != BITS_PER_MASK
        or len(body) != words * 8
        or hashlib.sha256(body).digest() != checksum
    ):
        return None
    return SavedFront(BloomFront(words, body, added), covered)
