"""The progress bar: tqdm on a terminal, nothing otherwise."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm


class Progress:
    """A bar over `total` units on stderr when `enabled`; every method is a no-op otherwise."""

    def __init__(self, enabled: bool, *, total: int, unit: str, description: str) -> None:
        self._bar: tqdm[None] | None = None
        if enabled:
            from tqdm import tqdm  # only on a terminal: a load logging to a file does without its import

            self._bar = tqdm(
                total=total,
                unit=unit,
                unit_scale=True,
                desc=description,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )

    def advance_to(self, done: int) -> None:
        """Move the bar to `done` units (it only moves forwards)."""
        if self._bar is not None and done > self._bar.n:
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
