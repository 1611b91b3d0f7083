"""The loader's worker processes: forks of the loader made before it opens the store, else of a worker server.

Workers are a concurrent.futures.ProcessPoolExecutor, not a multiprocessing.Pool: a Pool terminated while its
worker handler thread is mid-loop (a load refused a moment after its workers started) can fork replacements for
the workers its own termination just stopped, and then wait forever for one of them (`python -m
benchmarks.refused_loads` counts such hangs); an executor never replaces a worker, and its shutdown cancels
pending work.

A load's stages (pass 1, partitioning the biggest feeds, deciding and building; a load that applies batches
orders instead of building) share one pool (load_pool), made before the store or a grpc channel is opened:
its workers are forks of the loader, which has imported everything they run, so they start at once and share
nothing with the store opened after them. Where that cannot be (another Python thread runs, or the caller
opened the store already), workers come from a forkserver, which imports the loader once in a process of its
own that shares nothing with the parent (no open store, no threads); spawned workers would each import numpy,
the kernel, the loader and its tables afresh (about 0.8 s of CPU each on this kind of machine). Where a
forkserver's unix socket cannot be bound (TMPDIR too deep for the 107-byte socket path), workers are spawned.

stop_worker_server() ends the forkserver (which reaps every worker) and multiprocessing's resource tracker
before the loader exits, so the loader's own parent accounts for the workers' CPU and memory (wait4,
/usr/bin/time, systemd), and no process of a load outlives it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import forkserver, resource_tracker
from multiprocessing.context import BaseContext

from risklist_server.core.link_socket import MAX_SOCKET_PATH_BYTES

PRELOADED = ["risklist_loader.cli"]
"""Imported once by the forkserver; cli imports every module a worker runs."""
FORKSERVER_SOCKET_EXTRA = len("/pymp-xxxxxxxx/listener-xxxxxxxx")
"""What multiprocessing adds to the temporary directory for the forkserver's socket."""

CHUNK_BYTES = 8 * 1024 * 1024
"""Bytes of feed per pass-1 task: big enough to amortise a task, small enough to spread over the cores."""

_context: BaseContext | None = None


def workers_for(size: int) -> int:
    """Worker processes for a feed of `size` bytes: every core for big feeds, none for small ones."""
    if size < 2 * CHUNK_BYTES:
        return 0
    return max(1, min(os.cpu_count() or 1, 8))


def worker_context() -> BaseContext:
    """The forkserver context (preloading the loader) where its socket fits, else spawn."""
    global _context
    if _context is None:
        directory = os.fsencode(tempfile.gettempdir())
        if len(directory) + FORKSERVER_SOCKET_EXTRA <= MAX_SOCKET_PATH_BYTES:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOADED)
            _context = context
        else:
            _context = multiprocessing.get_context("spawn")
    return _context


Workers = ProcessPoolExecutor
"""A load's worker processes."""


@contextmanager
def worker_pool(count: int, *, forked: bool = False) -> Iterator[Workers]:
    """`count` workers that share nothing with this process (Ctrl-C left to it), running from the moment this is
    entered; on leaving, work not started is cancelled and the workers end once their running tasks have.

    `forked`: the caller holds nothing a fork must not copy (no open store, no grpc channel: both run threads of
    their own), so the workers may be forks of this process, which has imported the loader already: they start
    at once instead of waiting for the worker server's imports. Only where this process runs no other Python
    thread (else from the worker server as usual)."""
    may_fork = forked and threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    context: BaseContext = multiprocessing.get_context("fork") if may_fork else worker_context()
    workers = ProcessPoolExecutor(count, mp_context=context, initializer=ignore_interrupts)
    try:
        # With fork every worker is made at the first task, in this thread: now, before the caller goes on.
        workers.submit(os.getpid).result()
        yield workers
    finally:
        workers.shutdown(wait=True, cancel_futures=True)


@contextmanager
def load_pool(count: int, *, forked: bool) -> Iterator[Workers | None]:
    """The workers every stage of one load shares: `count` of them (None for 0: the stages run in this process),
    forks of this process where `forked` allows it (see worker_pool). Ended when the load is, or earlier by
    end_workers."""
    if not count:
        yield None
        return
    with worker_pool(count, forked=forked) as workers:
        yield workers


def end_workers(workers: Workers | None) -> None:
    """End a load's workers now (their part is done), cancelling anything not started."""
    if workers is not None:
        workers.shutdown(wait=True, cancel_futures=True)


@contextmanager
def stage_pool(shared: Workers | None, count: int) -> Iterator[Workers]:
    """The load's workers when there are any, else `count` workers for one stage (a caller that runs a stage on
    its own, as tests do)."""
    if shared is not None:
        yield shared
        return
    with worker_pool(count) as workers:
        yield workers


def ignore_interrupts() -> None:
    """In a worker: leave Ctrl-C to the parent, which stops the pool and explains (no traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_worker_server() -> None:
    """End the forkserver and multiprocessing's resource tracker, if started, once every worker has been reaped."""
    # multiprocessing has no public call for these; _stop is the one its own tests use (3.8 to 3.13).
    if _context is not None and _context.get_start_method() == "forkserver":
        _call_if_present(forkserver._forkserver, "_stop")
    _call_if_present(resource_tracker._resource_tracker, "_stop")


def _call_if_present(helper: object, name: str) -> None:
    method = getattr(helper, name, None)
    if callable(method):
        method()
