"""A closed-loop Python load generator: processes × threads repeat pre-built operations for a while.

Operations are pre-serialized gRPC requests (sent as bytes, answers kept as bytes) or Redis
commands on pre-computed keys, so the client spends as little as it can per call. Each process
is spawned (never forked: gRPC objects must not cross a fork).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from benchmarks.procstats import read_proc
from benchmarks.stats import Latency, summarise_ms

OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
"""Channel option: a connection of its own, so the kernel spreads clients over the server's workers."""

Kind = Literal["grpc_unary", "grpc_stream", "redis_get", "redis_pipeline", "redis_mget"]


@dataclass(frozen=True, slots=True)
class Workload:
    """What every client thread does: `kind` against `target`, cycling through `payloads`.

    grpc_*: target "host:port", method the full path, payloads serialized requests.
    redis_get: payloads are keys; redis_mget / redis_pipeline: key_batches are lists of keys.
    `keys_per_op` is how many subjects one operation checks; `depth` is how many stream messages
    a grpc_stream client keeps in flight.
    """

    kind: Kind
    target: str
    keys_per_op: int
    payloads: Sequence[bytes] = ()
    key_batches: Sequence[Sequence[bytes]] = ()
    method: str = ""
    depth: int = 1
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Operations completed inside the measured window, and their latencies."""

    ops: int
    seconds: float
    keys_per_op: int
    latency: Latency
    errors: int
    client_cpu_s: float = 0.0
    """CPU seconds the client processes used over the whole call (warm-up included)."""

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def keys_per_s(self) -> float:
        return self.ops_per_s * self.keys_per_op


Operation = Callable[[int], None]


def _grpc_unary(work: Workload) -> tuple[Operation, Callable[[], None]]:
    import grpc

    channel = grpc.insecure_channel(work.target, options=OWN_CONNECTION)
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(work.method)  # bytes in and out
    payloads = work.payloads

    def one(index: int) -> None:
        call(payloads[index % len(payloads)], timeout=work.timeout)

    return one, channel.close


def _redis(work: Workload) -> tuple[Operation, Callable[[], None]]:
    import redis

    host, port = work.target.rsplit(":", 1)
    client = redis.Redis(host=host, port=int(port))
    payloads, batches = work.payloads, work.key_batches

    def get(index: int) -> None:
        client.get(payloads[index % len(payloads)])

    def mget(index: int) -> None:
        client.mget(batches[index % len(batches)])

    def pipelined(index: int) -> None:
        pipe = client.pipeline(transaction=False)
        for key in batches[index % len(batches)]:
            pipe.get(key)
        pipe.execute()

    operations: dict[str, Operation] = {"redis_get": get, "redis_mget": mget, "redis_pipeline": pipelined}
    return operations[work.kind], client.close


def _run_thread(work: Workload, offset: int, measure_from: float, end: float,
                latencies: array[float], counters: list[int], lock: threading.Lock) -> None:
    """One client thread: repeat operations until `end`; record those inside [measure_from, end]."""
    if work.kind == "grpc_stream":
        ops, errors = _run_stream(work, offset, measure_from, end, latencies)
    else:
        ops = errors = 0
        index = offset
        operation, close = _grpc_unary(work) if work.kind == "grpc_unary" else _redis(work)
        try:
            while (now := time.perf_counter()) < end:
                try:
                    operation(index)
                except Exception:
                    errors += 1
                    continue
                finally:
                    index += 1
                done = time.perf_counter()
                if now >= measure_from and done <= end:
                    latencies.append((done - now) * 1000.0)
                    ops += 1
        finally:
            close()
    with lock:
        counters[0] += ops
        counters[1] += errors


def _run_stream(work: Workload, offset: int, measure_from: float, end: float,
                latencies: array[float]) -> tuple[int, int]:
    """One StreamCheck stream keeping `depth` messages in flight; latency is send to answer."""
    import grpc

    channel = grpc.insecure_channel(work.target, options=OWN_CONNECTION)
    call: grpc.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(work.method)
    outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def requests() -> Iterator[bytes]:
        while (item := outbox.get()) is not None:
            yield item

    responses = call(requests(), timeout=end - time.perf_counter() + 60)
    payloads = work.payloads
    sent: deque[float] = deque()
    index, ops = offset, 0
    try:
        for _ in range(work.depth):
            sent.append(time.perf_counter())
            outbox.put(payloads[index % len(payloads)])
            index += 1
        while sent:
            next(responses)
            done = time.perf_counter()
            started = sent.popleft()
            if started >= measure_from and done <= end:
                latencies.append((done - started) * 1000.0)
                ops += 1
            if done < end:
                sent.append(time.perf_counter())
                outbox.put(payloads[index % len(payloads)])
                index += 1
    except (grpc.RpcError, StopIteration):
        return ops, 1
    finally:
        outbox.put(None)
        channel.close()
    return ops, 0


_barrier: threading.Barrier | None = None


def _init_process(barrier: threading.Barrier) -> None:
    global _barrier
    _barrier = barrier
    import grpc  # noqa: F401  (imported once per client process, outside any measurement)

    with contextlib.suppress(ImportError):  # redis-py comes with the bench extra only
        import redis  # noqa: F401


def _process_main(work: Workload, threads: int, warmup: float, duration: float,
                  offset: int) -> tuple[int, int, bytes]:
    """One client process: run `threads` threads; return (ops, errors, latencies as array bytes)."""
    if _barrier is not None:
        _barrier.wait(timeout=300)  # every process starts its clients at the same moment
    start = time.perf_counter()
    measure_from, end = start + warmup, start + warmup + duration
    latencies: array[float] = array("d")
    counters = [0, 0]
    lock = threading.Lock()
    workers = [threading.Thread(target=_run_thread, args=(work, offset + i * 7919, measure_from, end,
                                                           latencies, counters, lock)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counters[0], counters[1], latencies.tobytes()


class ClientPool:
    """`processes` spawned client processes, reused for every measurement of a harness run."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        context = multiprocessing.get_context("spawn")
        self._barrier = context.Barrier(processes)
        self._pool = context.Pool(processes, initializer=_init_process, initargs=(self._barrier,))

    def run(self, work: Workload, *, threads: int, duration: float, warmup: float) -> LoadResult:
        """Run the workload closed loop from every process × `threads` clients; latencies in ms."""
        cpu_before = self._cpu_seconds()
        pending = [self._pool.apply_async(_process_main, (work, threads, warmup, duration, p * 104729))
                   for p in range(self.processes)]
        outcomes = [item.get(timeout=warmup + duration + 600) for item in pending]
        cpu = self._cpu_seconds() - cpu_before
        latencies: array[float] = array("d")
        ops = errors = 0
        for process_ops, process_errors, data in outcomes:
            ops += process_ops
            errors += process_errors
            latencies.frombytes(data)
        return LoadResult(ops, duration, work.keys_per_op, summarise_ms(latencies), errors, cpu)

    def _cpu_seconds(self) -> float:
        """CPU seconds used so far by this pool's client processes."""
        infos = (read_proc(child.pid) for child in multiprocessing.active_children() if child.pid is not None)
        return sum(info.cpu_seconds for info in infos if info is not None)

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
