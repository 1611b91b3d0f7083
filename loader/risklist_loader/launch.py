"""`risklist-load`'s entry point: the worker server starts importing before this process imports the loader.

A load of a big feed forks its workers from a worker server (risklist_loader.worker_pool) that imports the
loader once, some 0.3 s; the loader's own imports take as long again, and until both are done no worker can
start. Started here, before them, the two import side by side. Which file is the feed is known only once the
command line is parsed (risklist_loader.cli, which needs those imports), so this looks for any argument naming
a file big enough for workers: a wrong guess only starts the server early for nothing (it is stopped at exit)
or leaves it to cli, which starts it as before.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence

from risklist_loader.worker_pool import start_worker_server, workers_for


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if any(workers_for(size) for size in _file_sizes(arguments)):
        start_worker_server()
    from risklist_loader.cli import main as run

    return run(argv)


def _file_sizes(arguments: Sequence[str]) -> list[int]:
    """The sizes of the regular files that arguments (not options) name."""
    sizes = []
    for argument in arguments:
        if argument.startswith("-"):
            continue
        try:
            status = os.stat(argument)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(status.st_mode):
            sizes.append(status.st_size)
    return sizes
