"""Calls waiting for their request message: no member holds more than its share of a worker's threads that way.

Python's grpc server gives a call one of the worker's threads as soon as the call arrives, and the thread waits
there until the request message has arrived (risklist_server.rpc.requests reads it). A member that opened calls
and withheld their messages would hold every thread, and no other member's call would be answered. So a
watchdog looks, every TICK_SECONDS, at the calls that are slow: waiting longer than GRACE_SECONDS (a client sends
its request with the call; even a saturated worker hands it over far sooner). Of those, each member keeps at most
`per_member` and the worker at most `total` (the oldest), the others end RESOURCE_EXHAUSTED at once; none waits
longer than `limit_seconds` (CANCELLED). A member that has had its share of slow calls gets no grace for
SUSPECT_SECONDS: its calls are slow once they have waited one tick, so one opening withheld calls N times a second
holds about N x 2 x TICK_SECONDS threads, not N x GRACE_SECONDS. docs/operations.md, "Connections and streams".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import structlog

from risklist_server.rpc.call_cancel import end_call

log = structlog.get_logger("risklist.access")

GRACE_SECONDS = 1.0
"""A wait for a request message longer than this is slow: a client's request comes with its call, and even a
saturated worker (every thread busy, h2load at 256 concurrent calls) hands it over within a fraction of this."""
TICK_SECONDS = 0.02
"""How often the watchdog looks; also the grace of a suspect member's calls."""
SUSPECT_SECONDS = 60.0
"""How long a member that had its share of slow calls gets no grace."""


class WaitingCall:
    """One call whose handler waits for its request message: since when, and how it was ended (if it was)."""

    __slots__ = ("context", "method", "since", "ended")

    def __init__(self, context: grpc.ServicerContext, method: str, since: float) -> None:
        self.context = context
        self.method = method
        self.since = since
        self.ended: str | None = None
        """The status (a code_pb2 name) the watchdog ended the call with, None while it is not ended."""


@dataclass(frozen=True, slots=True)
class Ending:
    """What the watchdog does to one slow call: the status, the caller's message and the log's reason."""

    call: WaitingCall
    partner: str
    code: grpc.StatusCode
    message: str
    reason: str


class RequestWaits:
    """The calls of one worker waiting for their request messages (see the module's docstring).

    `partner_of` names the member behind a call's context (only slow calls are ever asked about).
    """

    def __init__(self, partner_of: Callable[[grpc.ServicerContext], str], *, per_member: int, total: int,
                 limit_seconds: float) -> None:
        self.per_member = per_member
        self.total = total
        self.limit_seconds = limit_seconds
        self._partner_of = partner_of
        self._waiting: dict[int, WaitingCall] = {}
        self._suspects: dict[str, float] = {}
        """Members that had their share of slow calls, and until when their calls get no grace."""
        self._start_lock = threading.Lock()
        self._watchdog: threading.Thread | None = None

    def begin(self, context: grpc.ServicerContext, method: str) -> WaitingCall:
        """Count a call whose handler is about to wait for its request message (end() once it has it)."""
        if self._watchdog is None:
            self._start_watchdog()
        waiting = WaitingCall(context, method, time.monotonic())
        self._waiting[id(waiting)] = waiting
        return waiting

    def end(self, waiting: WaitingCall) -> bool:
        """Stop counting `waiting` (its message arrived, or the call ended); False if the watchdog took it first
        (it is ended with `waiting.ended`, whatever the handler got meanwhile)."""
        return self._waiting.pop(id(waiting), None) is not None

    def waiting_count(self) -> int:
        return len(self._waiting)

    def due(self, now: float) -> list[Ending]:
        """The calls to end now, oldest kept first; marks each as ended. The watchdog's decision, alone."""
        suspects = {partner for partner, until in self._suspects.items() if until > now}
        slow = sorted((call for call in self._waiting.copy().values()
                       if call.ended is None and self._slow(call, now, suspects)), key=lambda call: call.since)
        endings: list[Ending] = []
        kept_per_member: dict[str, int] = {}
        kept = 0
        for call in slow:
            partner = self._partner(call.context)
            if now - call.since >= self.limit_seconds:
                endings.append(Ending(call, partner, grpc.StatusCode.CANCELLED,
                                      f"no request message within {self.limit_seconds:g} s of the call "
                                      "(request_wait_seconds): send the request with the call", "waited too long"))
            elif kept_per_member.get(partner, 0) >= self.per_member:
                endings.append(self._share_ending(call, partner))
            elif kept >= self.total:
                endings.append(Ending(call, partner, grpc.StatusCode.RESOURCE_EXHAUSTED,
                                      f"this server worker already waits on {self.total} calls' request messages; "
                                      "send each request with its call", "worker's share"))
            else:
                kept_per_member[partner] = kept_per_member.get(partner, 0) + 1
                kept += 1
                continue
            self._take(endings)
        for partner, count in kept_per_member.items():
            if count >= self.per_member:
                self._suspects[partner] = now + SUSPECT_SECONDS
        self._suspects = {partner: until for partner, until in self._suspects.items() if until > now}
        return endings

    def _slow(self, call: WaitingCall, now: float, suspects: set[str]) -> bool:
        waited = now - call.since
        return waited > GRACE_SECONDS or (waited >= TICK_SECONDS and bool(suspects)
                                          and self._partner(call.context) in suspects)

    def _share_ending(self, call: WaitingCall, partner: str) -> Ending:
        return Ending(call, partner, grpc.StatusCode.RESOURCE_EXHAUSTED,
                      f"partner {partner!r} already has {self.per_member} calls waiting for their request messages "
                      "(max_slow_requests_per_member): send each request with its call",
                      "member's share")

    def _take(self, endings: list[Ending]) -> None:
        """Take the last of `endings` from the count before it is ended (a handler whose message came meanwhile
        sees that: end()), or drop it if its message came first (it goes on)."""
        call = endings[-1].call
        call.ended = endings[-1].code.name
        if self._waiting.pop(id(call), None) is None:
            call.ended = None
            endings.pop()

    def _partner(self, context: grpc.ServicerContext) -> str:
        try:
            return self._partner_of(context)
        except Exception:  # noqa: BLE001 - a caller the gate cannot name now: its calls share one label
            return ""

    def _start_watchdog(self) -> None:
        with self._start_lock:
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name="request-waits", daemon=True)
                self._watchdog.start()

    def _watch(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            try:
                endings = self.due(time.monotonic())
            except Exception as error:  # noqa: BLE001 - the watchdog must outlive any one round
                log.error("request_wait_watch_failed", error=type(error).__name__)
                continue
            for ending in endings:  # each taken from the count already: one failing must not spare the others
                try:
                    self._end(ending)
                except Exception as error:  # noqa: BLE001
                    log.error("request_wait_watch_failed", error=type(error).__name__)

    @staticmethod
    def _end(ending: Ending) -> None:
        call = ending.call
        log.info("request_wait_ended", partner=ending.partner, method=call.method, reason=ending.reason,
                 status=ending.code.name, waited_seconds=round(time.monotonic() - call.since, 3))
        end_call(call.context, ending.code, ending.message)
