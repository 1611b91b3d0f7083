"""A cluster node's processes say on grpc health whether they may serve (issue 14, item 4).

The writer follows its ClusterNode's state: NOT_SERVING while it has not caught up with the log since it started,
once it is more than --max-lag behind (cut off from the NATS servers, or slower than the network's writes), and
for good once it failed to apply an entry. Each reader worker follows the writer's health over the writer link
(its records are the writer's, a moment later), and is NOT_SERVING too once the writer has not answered for
--max-lag. Reads go on being answered meanwhile: health is what load balancers and SDKs route by.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import structlog
from prometheus_client import Gauge

from risklist_server.cluster.node import ClusterNode
from risklist_server.rpc.service_health import ServiceHealth

log = structlog.get_logger("risklist.server")

CHECK_S = 0.25

SERVING = Gauge("risklist_cluster_serving",
                "1 while a cluster node's process reports SERVING on grpc health, 0 while NOT_SERVING.", ["worker"],
                multiprocess_mode="livemin")
LAG = Gauge("risklist_cluster_lag_seconds",
            "Seconds since the cluster node last found it had applied every entry of the write log (since it started, "
            "until it first did).", multiprocess_mode="livemax")
APPLIED = Gauge("risklist_cluster_applied_sequence", "The last write-log sequence this cluster node applied.",
                multiprocess_mode="livemax")


class HealthFollower:
    """Every CHECK_S, ask `serving()` for (serving, reason) and switch `healths` when it changes, in a thread."""

    def __init__(self, worker: str, serving: Callable[[], tuple[bool, str]], healths: Sequence[ServiceHealth]) -> None:
        self._worker = worker
        self._serving = serving
        self._healths = list(healths)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cluster-health", daemon=True)
        self._current: bool | None = None

    def start(self) -> HealthFollower:
        self.check()  # before the servers start: a node is never SERVING before it knows it may
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        serving, reason = self._serving()
        if serving != self._current:
            for health in self._healths:
                health.set_serving(serving)
            SERVING.labels(self._worker).set(1 if serving else 0)
            if serving:
                log.info("cluster_serving", worker=self._worker)
            else:
                log.warning("cluster_not_serving", worker=self._worker, reason=reason)
            self._current = serving

    def _run(self) -> None:
        while not self._stop.wait(CHECK_S):
            self.check()


def node_serving(node: ClusterNode) -> Callable[[], tuple[bool, str]]:
    """The writer's view: its node's state (and the lag and position metrics, updated at each look)."""
    started = time.monotonic()

    def serving() -> tuple[bool, str]:
        state = node.state()
        LAG.set(time.monotonic() - started if state.lag_s is None else state.lag_s)
        APPLIED.set(state.applied)
        return state.serving, state.reason

    return serving


def writer_serving(ask: Callable[[float], bool | None], max_lag_s: float) -> Callable[[], tuple[bool, str]]:
    """A reader's view: the writer's health (`ask`, with a timeout), and NOT_SERVING once the writer has not
    answered for `max_lag_s` (until then the last answer stands: a slow answer is not an outage)."""
    last_answer: list[tuple[float, bool]] = []

    def serving() -> tuple[bool, str]:
        answer = ask(min(1.0, max_lag_s))
        now = time.monotonic()
        if answer is not None:
            last_answer[:] = [(now, answer)]
            return answer, "" if answer else "the writer is not serving (behind the write log)"
        if not last_answer or now - last_answer[0][0] > max_lag_s:
            return False, f"the writer has not answered for more than --max-lag {max_lag_s:g} s"
        return last_answer[0][1], "the writer is not serving (behind the write log)"

    return serving
