"""Client threads for a fault test: each runs its loop until the block ends, while the test kills things."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Self


class ClientThreads:
    """Starts one thread per loop on entering, sets `stopping` and joins them on leaving. A loop runs until
    `stopping` is set; `lock` guards what the loops record."""

    def __init__(self, loops: list[Callable[[], None]]) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._threads = [threading.Thread(target=loop) for loop in loops]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join()
