"""The published front file mapped read-only: one copy in the page cache, shared by every reader worker."""

from __future__ import annotations

import hashlib
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from risklist_server.core.errors import FrontFileRefused
from risklist_server.store.front_file import HEADER, FrontOwner, check_header

FileStamp = tuple[int, int, int, int]
"""(device, inode, size, mtime ns): a re-published file (a rename) or a damaged one changes it."""


def file_stamp(path: Path) -> FileStamp | None:
    """The file's stamp, or None when it is absent."""
    try:
        return _stamp(os.stat(path))
    except FileNotFoundError:
        return None


def _stamp(status: os.stat_result) -> FileStamp:
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


@dataclass(frozen=True, slots=True)
class MappedFront:
    """A verified, read-only mapping of a front file; the words are little-endian uint64."""

    words: npt.NDArray[np.uint64]
    cells: memoryview
    """The same words as Python ints, for one-key probes (native order: little-endian hosts only)."""
    covered_sequence: int
    added: int
    stamp: FileStamp
    checksum: bytes

    def intact(self) -> bool:
        """Whether the mapped words still match the checksum they were mapped with (a shared mapping shows
        what is written into the file in place). Never call it on a file truncated in place (SIGBUS)."""
        return hashlib.sha256(self.cells.cast("B")).digest() == self.checksum


def map_front(path: Path, owner: FrontOwner) -> MappedFront:
    """Map `path` read-only after checking its header, owner and checksum; FrontFileRefused says why not.

    The checksum is computed by reading the open file, not through the mapping: the words end up in the
    page cache (shared by every process mapping the file) without counting towards this process's memory
    until a lookup touches them, so a loader that only publishes a front never holds a second copy. The
    mapping stays valid after the writer renames a newer file over it.
    """
    try:
        with open(path, "rb") as handle:
            stamp = _stamp(os.fstat(handle.fileno()))
            size = stamp[2]
            if size == 0:
                raise FrontFileRefused(path, "empty (truncated)")
            mapping = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ)
            header = check_header(memoryview(mapping), owner)
            if isinstance(header, str):
                raise FrontFileRefused(path, header)
            handle.seek(HEADER.size)
            checksum = hashlib.file_digest(handle, "sha256").digest()
    except FileNotFoundError:
        raise FrontFileRefused(path, "missing") from None
    except OSError as error:
        raise FrontFileRefused(path, f"unreadable: {error.strerror or error}") from None
    if checksum != header.checksum:
        raise FrontFileRefused(path, "checksum mismatch (damaged)")
    body = memoryview(mapping)[HEADER.size :]
    words = np.frombuffer(mapping, dtype="<u8", count=header.word_count, offset=HEADER.size)
    cells = body[: header.word_count * 8].cast("Q")
    return MappedFront(words, cells, header.covered_sequence, header.added, stamp, header.checksum)
