"""Watchlist: the bank's own subjects, intersected with every filter update inside the bank; alerts confirmed by
the server and recorded in a local state file so none is missed or repeated across restarts and resets.

What the server learns: nothing from the watchlist itself. Filter downloads and updates carry
every listed key to every member alike; the intersection happens here. Only a watched subject
named by an update (or, after a reset, passing the new filter; or, when added, passing the
current one) is sent, as its digest, in a BatchCheck that confirms it (and is audited as any
check is). docs/client.md, "Watchlists and alerts".
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from risklist_client.alerts import Alert, AlertKind, Summary, classify
from risklist_client.client import EntityTypeLike, RiskListClient
from risklist_client.watch_index import KeyIndex
from risklist_client.watch_state import Change, WatchState
from risklist_kernel.digest import KEY_SIZE
from risklist_kernel.enums import EntityType
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.pause_point import pause_point

log = logging.getLogger("risklist_client.watch")

OVERLAY_MIN = 10_000
OVERLAY_SHARE = 100
"""The index's overlay is folded into its array past max(OVERLAY_MIN, 1/OVERLAY_SHARE of it)."""
OUTBOX_KEEP = 100_000
"""Delivered alerts kept in the state's outbox (for inspection); older ones are deleted."""

AlertCallback = Callable[[Alert], None]
Subject = tuple[EntityTypeLike, str] | tuple[EntityTypeLike, str, str]
"""(type, raw value) or (type, raw value, label): the label is the bank's own reference, carried by alerts."""


@dataclass(frozen=True, slots=True)
class _Reset:
    version: int


@dataclass(frozen=True, slots=True)
class _Update:
    version: int
    candidates: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class _Screen:
    """Subjects were added: screen the pending ones against the current filter."""


_Event = _Reset | _Update | _Screen


class Watchlist:
    """Watched subjects of one bank, kept in `state_path` (a SQLite file), alerting through `on_alert` and
    `alerts()`. Thread-safe; one thread of its own confirms matches and delivers alerts.

    `client` must pre-screen (the default): its filter updates are what the watchlist intersects.
    `on_alert` is called on the watchlist's thread, one alert at a time in `alert_id` order; an alert
    counts as delivered once it returns (if it raises, the same alert is offered again after a
    back-off, and none after it meanwhile). `batch_size` bounds each confirming BatchCheck (the
    client's own batch_size also applies).
    """

    def __init__(
        self,
        client: RiskListClient,
        state_path: Path | str,
        *,
        on_alert: AlertCallback | None = None,
        retry_interval: float = 1.0,
        max_backoff: float = 30.0,
        batch_size: int = 1000,
    ) -> None:
        self._client = client
        self._state = WatchState(state_path, client.secret_fingerprint)
        self._index = KeyIndex(self._state.watched_keys())
        self._index_lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        self._rebuilding: list[bytes] | None = None
        self._callbacks: list[AlertCallback] = [on_alert] if on_alert is not None else []
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Alert]]] = []
        self._events: queue.Queue[_Event] = queue.Queue()
        self._retry_interval = retry_interval
        self._max_backoff = max_backoff
        self._batch_size = batch_size
        self._ready = False
        """A reset has been processed in this process: updates are applied from now on (before, the reset's
        catch-up or re-screen covers them)."""
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._undelivered = 0
        self._thread = threading.Thread(target=self._run, name="risklist-watch", daemon=True)
        self._started = False
        self.failures = 0
        """Rounds that failed in a row (a confirming check, the state, or a consumer); 0 once one succeeds."""

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Watchlist:
        """Deliver what a previous run left undelivered, then follow the client's filter."""
        if self._started:
            return self
        self._started = True
        current = self._client.add_filter_listener(self)
        if current is not None:
            self._events.put(_Reset(current.version))
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop following the filter and close the state (the client stays open); safe to call twice."""
        self._stop.set()
        self._client.remove_filter_listener(self)
        if self._thread.is_alive():
            self._thread.join()
        self._state.close()

    def __enter__(self) -> Watchlist:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- watched subjects -------------------------------------------------------------------------

    def add(self, subjects: Iterable[Subject]) -> int:
        """Watch `subjects` (normalised and digested here); return how many were not watched before.

        InvalidIdentifier naming `subjects[i]` (nothing is added then). A new subject is screened against
        the current filter at once (a listed one alerts LISTED); one watched already keeps its state.
        """
        entries: list[tuple[bytes, str]] = []
        for index, subject in enumerate(subjects):
            try:
                key = self._client.storage_key(subject[0], subject[1])
            except InvalidIdentifier as error:
                raise InvalidIdentifier(error.entity_type, error.reason, field=f"subjects[{index}]") from None
            entries.append((key, subject[2] if len(subject) == 3 else ""))
        return self.add_keys(entries)

    def add_keys(self, entries: Iterable[tuple[bytes, str]]) -> int:
        """add() for subjects already digested: (17-byte storage key, label) pairs."""
        added = self._state.add(entries)
        self._added(added)
        return len(added)

    def replace_keys(self, entries: Iterable[tuple[bytes, str]]) -> tuple[int, int]:
        """Watch exactly `entries` (storage key, label): return how many were added and how many removed.
        Only the added ones are screened (what risklist-watch does when its customer file changes)."""
        added, removed = self._state.replace_all(entries)
        self._added(added)
        return len(added), removed

    def _added(self, added: list[bytes]) -> None:
        with self._index_lock:
            bulk = len(added) > max(OVERLAY_MIN, len(self._index) // OVERLAY_SHARE)
            if not bulk:
                for key in added:
                    self._index.add(key)
                if self._rebuilding is not None:
                    self._rebuilding.extend(added)
        if bulk:  # an overlay entry costs ~70 bytes, an array entry 8: fold many at once straight into the array
            self._rebuild_index(added)
        if added:
            self._events.put(_Screen())

    def remove(self, subjects: Iterable[tuple[EntityTypeLike, str]]) -> int:
        """Stop watching `subjects`; return how many were watched. No alert is raised for a removed subject."""
        return self.remove_keys([self._client.storage_key(kind, value) for kind, value in subjects])

    def remove_keys(self, keys: Iterable[bytes]) -> int:
        """remove() for storage keys (the index forgets them at its next rebuild; until then they only cost a
        look-up in the state)."""
        return self._state.remove(keys)

    def __len__(self) -> int:
        return self._state.count()

    # ---- alerts -----------------------------------------------------------------------------------

    def alerts(self) -> AsyncIterator[Alert]:
        """Every alert delivered from now on, as an async iterator on the running event loop.

        An alert is delivered once every `on_alert` callback returned; the iterator gets it then. For
        exactly-once handling across restarts, act in `on_alert` (or keep the last `alert_id` handled):
        an alert queued on an iterator when the process dies is not offered again.
        """
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Alert] = asyncio.Queue()
        subscriber = (loop, inbox)
        self._subscribers.append(subscriber)

        async def iterate() -> AsyncIterator[Alert]:
            try:
                while True:
                    yield await inbox.get()
            finally:
                self._subscribers.remove(subscriber)

        return iterate()

    # ---- state for operators and tests -----------------------------------------------------------

    @property
    def version(self) -> int | None:
        """The list version whose changes were processed (None: not yet screened)."""
        return self._state.version

    def idle(self) -> bool:
        """Nothing queued or being processed, nothing undelivered, and the first screen done."""
        return (self._ready and self._events.unfinished_tasks == 0 and not self._busy.is_set()
                and self._undelivered == 0)

    @property
    def index_bytes(self) -> int:
        """Memory the in-memory key index takes (8 bytes per watched subject after a rebuild)."""
        return self._index.size_bytes

    # ---- FilterListener (called on the client's refresh thread) -----------------------------------

    def filter_reset(self, version: int) -> None:
        self._events.put(_Reset(version))

    def filter_updated(self, version: int, added_keys: bytes, removed_keys: bytes) -> None:
        with self._index_lock:
            candidates = self._index.among(added_keys, KEY_SIZE) + self._index.among(removed_keys, KEY_SIZE)
        self._events.put(_Update(version, tuple(candidates)))

    # ---- the watchlist's thread -------------------------------------------------------------------

    def _run(self) -> None:
        self._retrying(self._deliver)
        while not self._stop.is_set():
            try:
                event = self._events.get(timeout=0.5)
            except queue.Empty:
                continue
            self._busy.set()
            try:
                self._retrying(functools.partial(self._process, event))
                self._retrying(self._deliver)
                self._maybe_rebuild_index()
            finally:
                self._busy.clear()
                self._events.task_done()

    def _retrying(self, step: Callable[[], None]) -> None:
        """Run `step` until it succeeds or the watchlist stops, backing off between failures."""
        while not self._stop.is_set():
            try:
                step()
            except Exception as error:  # never let the thread die: nothing is lost, the step runs again
                self.failures += 1
                delay = min(self._max_backoff, self._retry_interval * 2 ** min(self.failures - 1, 16))
                delay *= random.uniform(0.75, 1.0)
                if self.failures == 1 or self.failures % 10 == 0:
                    log.warning("watchlist_round_failed error=%s failures=%d retry_in=%.1f",
                                _describe(error), self.failures, delay)
                self._stop.wait(delay)
            else:
                if self.failures:
                    log.info("watchlist_recovered failures=%d", self.failures)
                self.failures = 0
                return

    def _process(self, event: _Event) -> None:
        if isinstance(event, _Reset):
            self._process_reset()
        elif isinstance(event, _Update):
            if self._ready:
                self._confirm(event.candidates, version=event.version)
        elif self._ready:
            self._screen_pending()

    def _process_reset(self) -> None:
        """After a restart, catch up from the version processed; after a reset (or with none), re-screen all."""
        version = self._state.version
        if version is None or not self._catch_up(version):
            self._rescreen()
        self._screen_pending()
        self._ready = True

    def _catch_up(self, since: int) -> bool:
        """Process what changed after `since` (GetFilterUpdates); False when the server says reset instead."""
        candidates: set[bytes] = set()
        reached = since
        known_list = self._state.list_id or ""
        for update in self._client.filter_changes_since(since):
            if update.reset:
                log.info("watchlist_catch_up_reset since=%d", since)
                return False
            if update.list_id and update.list_id != known_list:
                # The server now holds another list (another store behind the address, or a state from before
                # list ids): its versions do not continue ours, and catching up would miss what it listed earlier.
                log.info("watchlist_catch_up_other_list since=%d", since)
                return False
            with self._index_lock:
                candidates.update(self._index.among(update.added_keys, KEY_SIZE))
                candidates.update(self._index.among(update.removed_keys, KEY_SIZE))
            reached = max(reached, update.version)
        log.info("watchlist_caught_up since=%d version=%d candidates=%d", since, reached, len(candidates))
        self._confirm(sorted(candidates), version=reached)
        return True

    def _rescreen(self) -> None:
        """Every watched subject against the current filter; candidates and every subject alerted listed
        are confirmed, and only real changes alert."""
        current = self._client.local_filter()
        if current is None:
            raise RuntimeError("no filter to screen against yet")
        version = current.version  # read first: the filter holds every key listed at it (updates only add)
        started = time.monotonic()
        screened_through = self._state.pending_mark()  # a key added during the scan stays pending
        might_contain = current.bloom.might_contain
        candidates = {key for key in self._state.watched_keys() if might_contain(key)}
        candidates.update(self._state.alerted_keys())
        log.info("watchlist_rescreen version=%d candidates=%d seconds=%.2f", version, len(candidates),
                 time.monotonic() - started)
        self._confirm(sorted(candidates), version=version, screened_through=screened_through, reset=True,
                      list_id=current.list_id)

    def _screen_pending(self) -> None:
        """Subjects added since the last screen, against the current filter."""
        pending = self._state.pending()
        if not pending:
            return
        current = self._client.local_filter()
        if current is None:
            return  # the first filter's reset screens them
        might_contain = current.bloom.might_contain
        self._confirm([key for key in pending if might_contain(key)], version=None, screened=pending)

    def _confirm(self, candidates: Sequence[bytes], *, version: int | None, screened: Sequence[bytes] = (),
                 screened_through: int = 0, reset: bool = False, list_id: str | None = None) -> None:
        """Ask the server about `candidates`, record the alerts their answers raise and `version` as processed,
        all in one transaction."""
        labels = self._state.labels(candidates)
        # One answer per key: an update may name a key twice (unlisted by one write, listed by a later one).
        keys = [key for key in dict.fromkeys(candidates) if key in labels]
        changes: list[Change] = []
        for start in range(0, len(keys), self._batch_size):
            part = keys[start : start + self._batch_size]
            answers = self._client.check_keys(part)
            previous = self._state.summaries(part)
            for key, answer in zip(part, answers, strict=True):
                before = previous.get(key)
                kind = classify(before, answer)
                if kind is None:
                    continue
                alert = Alert(0, kind, EntityType(key[0]), labels[key], key, answer, before, time.time())
                changes.append(Change(key, None if kind is AlertKind.CLEARED else Summary.of(answer), alert))
        pause_point("watch-before-record")
        recorded = self._state.record(changes, version=version, screened=screened, screened_through=screened_through,
                                      reset=reset, list_id=list_id)
        self._undelivered += len(recorded)
        if recorded:
            log.info("watchlist_alerts_recorded count=%d version=%s", len(recorded), version)
        pause_point("watch-alert-recorded")

    def _deliver(self) -> None:
        """Hand every undelivered alert, oldest first, to the callbacks, then mark it delivered."""
        pending = self._state.undelivered()
        self._undelivered = len(pending)
        for alert in pending:
            for callback in self._callbacks:
                callback(alert)
            self._state.delivered(alert.alert_id)
            self._undelivered -= 1
            for loop, inbox in list(self._subscribers):
                if not loop.is_closed():
                    loop.call_soon_threadsafe(inbox.put_nowait, alert)
        if pending:
            self._state.trim_outbox(OUTBOX_KEEP)

    def _maybe_rebuild_index(self) -> None:
        """Fold the index's overlay into its array once it holds more than 1% of it (and 10k)."""
        with self._index_lock:
            if self._index.overlay_size <= max(OVERLAY_MIN, len(self._index) // OVERLAY_SHARE):
                return
        self._rebuild_index([])

    def _rebuild_index(self, also: list[bytes]) -> None:
        """A new index from the state's keys (in key order: no sort), swapped in; keys added meanwhile, and
        `also` (keys just committed), go into its overlay, so none is missed while it is built."""
        with self._rebuild_lock:
            with self._index_lock:
                self._rebuilding = list(also)
            fresh = KeyIndex(self._state.watched_keys())
            with self._index_lock:
                for key in self._rebuilding or ():
                    fresh.add(key)
                self._index, self._rebuilding = fresh, None


def _describe(error: Exception) -> str:
    """A one-line reason for the log, without identifiers (errors here name codes, files and counts)."""
    return f"{type(error).__name__}: {error}"
