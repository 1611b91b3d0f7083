"""A cluster node checks its clock against the NATS servers' and stops serving while they disagree.

Every date a node decides by is its own clock's: whether a contribution has expired (a verdict leaves it out), the
expiry sweep's purges (which every node applies, at the driving node's time), a report's dates. A clock set ahead
answers "not listed" for what it takes to have expired; one set behind refuses reports as dated in the future. A
node alone has nothing to compare its clock with; a cluster node has the NATS servers, which stamp every message they
store with their own time. Every CHECK_INTERVAL_S the node writes one key to the lease bucket and reads back the
time its message was stored (WriteLog.clock_offset); once its clock is more than MAX_CLOCK_OFFSET_S off (beyond the
round trip's uncertainty), the node reports NOT_SERVING (clients go to other nodes) and does not drive the expiry
sweep, until a check finds the clocks agree again.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from prometheus_client import Gauge

from risklist_server.services.poller import Poller

log = structlog.get_logger("risklist.cluster")

MAX_CLOCK_OFFSET_S = 60.0
"""How far a node's clock may be from the NATS servers' (NTP keeps machines within milliseconds)."""
CHECK_INTERVAL_S = 30.0

CLOCK_OFFSET = Gauge("risklist_cluster_clock_offset_seconds",
                     "This cluster node's clock minus the NATS servers', at the last check.",
                     multiprocess_mode="livemostrecent")


class ClockWatch:
    """See the module's description. `measure` gives (offset s, uncertainty s): WriteLog.clock_offset."""

    def __init__(self, measure: Callable[[], tuple[float, float]], *, max_offset_s: float = MAX_CLOCK_OFFSET_S,
                 interval_s: float = CHECK_INTERVAL_S) -> None:
        self._measure = measure
        self._max_offset_s = max_offset_s
        self.problem: str | None = None
        """Why the node must not serve (its clock is off), or None."""
        self._poller = Poller(self.check, seconds=interval_s, name="clock-watch", failure_event="clock_check_failed",
                              once_per_outage=True, logger=log)

    def start(self) -> ClockWatch:
        self._poller.start()
        return self

    def stop(self) -> None:
        self._poller.stop()

    def check(self) -> float:
        """Measure once and set `problem`; the offset (LogUnavailable, as WriteLog raises it, leaves `problem`)."""
        offset, uncertainty = self._measure()
        CLOCK_OFFSET.set(offset)
        if abs(offset) - uncertainty > self._max_offset_s:
            side = "ahead of" if offset > 0 else "behind"
            problem = (f"this machine's clock is {abs(offset):.0f} s {side} the NATS servers' (more than "
                       f"{self._max_offset_s:g} s): expiry and report dates would be wrong; set the clock right "
                       "(timedatectl, NTP)")
            if self.problem is None:
                log.error("clock_off", offset_s=round(offset, 3), max_offset_s=self._max_offset_s)
            self.problem = problem
        elif self.problem is not None:
            log.info("clock_agrees", offset_s=round(offset, 3))
            self.problem = None
        return offset
