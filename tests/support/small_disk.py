"""A real small filesystem for full-disk tests: a tmpfs of a few megabytes, resized to free space."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


class SmallDisk:
    """A mounted tmpfs at `path`; `fill()` takes its free space, `free()` gives it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._filler = path / "filler"

    def fill(self) -> None:
        """Write a filler file until the disk is full (ENOSPC)."""
        chunk = b"\0" * 65536
        with self._filler.open("ab") as handle:
            try:
                while True:
                    handle.write(chunk)
                    handle.flush()
            except OSError:
                pass

    def free(self, size: str = "64m") -> None:
        """Delete the filler and grow the disk to `size`: the operator freed space."""
        self._filler.unlink(missing_ok=True)
        _mount("-o", f"remount,size={size}", str(self.path))

    def leftovers(self, directory: Path) -> list[str]:
        """Scratch a failed write may leave in `directory`: temp files and bulk-ingest folders."""
        return sorted(name.name for name in directory.iterdir()
                      if name.name.endswith(".tmp") or name.name.startswith("bulk-ingest-"))


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextmanager
def small_disk(directory: Path, size: str = "2m") -> Iterator[SmallDisk]:
    """Mount a `size` tmpfs on `directory` (needs root); the test is skipped where mounting is refused."""
    directory.mkdir(parents=True, exist_ok=True)
    mounted = _mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(directory))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): the full-disk test needs root")
    try:
        yield SmallDisk(directory)
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True, check=False)
