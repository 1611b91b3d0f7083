"""Keeping the local filter fresh: download (GetFilter), deltas (GetFilterUpdates), resets and back-off."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, Protocol

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_client.metrics import Counters
from risklist_client.network_check import NetworkCheck
from risklist_kernel.bloom import ALGORITHM, BITS_PER_MASK, BlockedBloom
from risklist_kernel.digest import KEY_SIZE
from risklist_kernel.errors import RiskListError

log = logging.getLogger("risklist_client")


class FilterError(RiskListError):
    """A filter stream was unusable: bad checksum, truncated, or an unknown algorithm."""


class ChecksumMismatch(FilterError):
    """The downloaded filter's SHA-256 differs from the trailer's."""


class ForeignFilter(FilterError):
    """A filter or update names another network secret than the client's (or none): its keys are not ours."""


@dataclass(slots=True)
class LocalFilter:
    """A downloaded filter, the changelog version it covers (updates raise it in place) and the list whose
    versions those are (empty: a server that predates list ids)."""

    bloom: BlockedBloom
    version: int
    list_id: str = ""


class FilterListener(Protocol):
    """Told of every new filter and every update applied, on the refresh thread (return quickly)."""

    def filter_reset(self, version: int) -> None:
        """A new filter (first download, or after a reset) now answers, covering `version`."""

    def filter_updated(self, version: int, added_keys: bytes, removed_keys: bytes) -> None:
        """An update was applied: keys listed or changed, and keys unlisted, up to `version` (17-byte keys)."""


class FilterSync:
    """A background thread that keeps a LocalFilter current; `usable()` is what checks consult."""

    def __init__(
        self,
        stub: pb_grpc.RiskListStub,
        counters: Counters,
        *,
        network: NetworkCheck,
        update_interval: float,
        max_staleness: float,
        max_backoff: float,
        download_deadline: float,
        clock: Callable[[], float] = time.monotonic,
        on_keys_changed: Callable[[bytes], None] = lambda keys: None,
        on_reset: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_keys_changed` gets each update's changed keys (listed or unlisted, concatenated);
        `on_reset` is called when a new filter replaces the old one. Every download first asks the server
        which secret it holds (`network`); a filter or update naming another secret is never used."""
        self._stub = stub
        self._network = network
        self._on_keys_changed = on_keys_changed
        self._on_reset = on_reset
        self._counters = counters
        self.update_interval = update_interval
        self.max_staleness = max_staleness
        self.max_backoff = max_backoff
        self._download_deadline = download_deadline
        self._clock = clock
        self.filter: LocalFilter | None = None
        self.fresh_until = float("-inf")
        """Monotonic time until which the filter may answer: last successful refresh + max_staleness."""
        self.last_success = float("-inf")
        self.backoff = 0.0
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._thread = threading.Thread(target=self._run, name="risklist-filter", daemon=True)
        self._active: grpc.RpcContext | None = None
        """The stream being read, so stop() can cancel it."""
        self._listeners: list[FilterListener] = []
        self._listeners_lock = threading.Lock()
        """Held while a filter is replaced or an update applied and told: a listener added meanwhile sees
        either the filter before (and then the event) or the filter after."""

    def add_listener(self, listener: FilterListener) -> LocalFilter | None:
        """Tell `listener` of every later reset and update; return the filter as it is now (None: not loaded)."""
        with self._listeners_lock:
            self._listeners.append(listener)
            return self.filter

    def remove_listener(self, listener: FilterListener) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop refreshing; a download or update in progress is cancelled, not waited for."""
        self._stop.set()
        active = self._active
        if active is not None:
            active.cancel()
        if self._thread.is_alive():
            self._thread.join()

    def wait_loaded(self, timeout: float | None) -> bool:
        """Block until the first filter is loaded (True), or `timeout` passes (False)."""
        return self._loaded.wait(timeout)

    def usable(self) -> LocalFilter | None:
        """The filter if it may answer now (loaded and fresh), else None: ask the server."""
        current = self.filter
        if current is None or self._clock() > self.fresh_until:
            return None
        return current

    def refresh_once(self) -> None:
        """One round: download when there is no filter, else apply updates (downloading on reset)."""
        started = self._clock()
        if self.filter is None:
            self._set(self._download())
        else:
            self._apply_updates(self.filter)
        self.last_success = started
        self.fresh_until = started + self.max_staleness

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.refresh_once()
            except Exception as error:  # never let the thread die: back off and try again
                if self._stop.is_set():  # stop() cancelled it: no failure of the refresh
                    return
                failures += 1
                self.backoff = min(self.max_backoff, self.update_interval * 2**failures) * random.uniform(0.75, 1.0)
                self._counters.add(refresh_failures=1)
                if failures == 1 or failures % 10 == 0:
                    log.warning("risklist filter refresh failed (%s); retrying in %.1f s (%d in a row)",
                                _describe(error), self.backoff, failures)
                delay = self.backoff
            else:
                if failures:
                    log.info("risklist filter refresh recovered after %d failures", failures)
                failures = 0
                self.backoff = 0.0
                delay = self.update_interval
            self._stop.wait(delay)

    def _set(self, downloaded: LocalFilter) -> None:
        with self._listeners_lock:
            self.filter = downloaded
            self._on_reset()
            for listener in self._listeners:
                listener.filter_reset(downloaded.version)
        self._loaded.set()

    def _apply_updates(self, current: LocalFilter) -> None:
        request = pb.GetFilterUpdatesRequest(since_version=current.version)
        stream = self._active = self._stub.GetFilterUpdates(request, timeout=self._download_deadline)
        if self._stop.is_set():
            stream.cancel()
        for update in stream:
            if update.secret_fingerprint != self._network.fingerprint:
                stream.cancel()
                self.filter, self.fresh_until = None, float("-inf")  # never answer from it again
                self._on_reset()
                self._foreign(update.secret_fingerprint, "a filter update")
            if update.reset or _another_list(current.list_id, update.list_id):
                # Another list (the client now reaches another server or store): its versions do not continue
                # ours, so its updates since our version would miss what it listed before. Start again from it.
                stream.cancel()
                self._counters.add(filter_resets=1)
                self._set(self._download())
                return
            keys = update.added_keys
            if len(keys) % KEY_SIZE:
                raise FilterError(f"an update carried {len(keys)} bytes of keys, not a multiple of {KEY_SIZE}")
            bloom = current.bloom
            with self._listeners_lock:
                for offset in range(0, len(keys), KEY_SIZE):
                    bloom.add(keys[offset : offset + KEY_SIZE])
                # Version first, then forget: a cached answer older than this update can no longer be
                # stored (the cache compares versions under its lock), and one stored before is dropped.
                current.version = max(current.version, update.version)
                self._on_keys_changed(keys)
                self._on_keys_changed(update.removed_keys)
                for listener in self._listeners:
                    listener.filter_updated(update.version, keys, update.removed_keys)
        self._counters.add(filter_updates=1)

    def _download(self) -> LocalFilter:
        """GetFilter, verified: the server's secret and the filter's are the client's; algorithm and layout known,
        length and SHA-256 as announced."""
        self._network.verify()  # a new filter: first make sure the server still holds this client's secret
        stream = self._active = self._stub.GetFilter(pb.GetFilterRequest(), timeout=self._download_deadline)
        if self._stop.is_set():
            stream.cancel()
        header: pb.FilterHeader | None = None
        words: array[int] = array("Q")  # filled chunk by chunk: the filter is held once, never copied
        received = 0
        digest = hashlib.sha256()
        trailer: pb.FilterTrailer | None = None
        for chunk in stream:
            part = chunk.WhichOneof("part")
            if part == "header":
                header = chunk.header
                if header.secret_fingerprint != self._network.fingerprint:
                    stream.cancel()
                    self._foreign(header.secret_fingerprint, "the downloaded filter")
                _check_parameters(header)
            elif part == "data":
                if header is None or received + len(chunk.data) > header.total_bytes or len(chunk.data) % 8:
                    raise FilterError("filter data arrived before its header, beyond its size or not in whole words")
                words.frombytes(chunk.data)
                received += len(chunk.data)
                digest.update(chunk.data)
            elif part == "trailer":
                trailer = chunk.trailer
        if header is None or trailer is None or received != header.total_bytes:
            raise FilterError("the filter stream ended early (no header, no trailer or missing data)")
        if digest.digest() != trailer.sha256:
            self._counters.add(checksum_mismatches=1)
            raise ChecksumMismatch("the downloaded filter's SHA-256 does not match its trailer; downloading again")
        bloom = BlockedBloom.from_words(words, header.key_count)
        self._counters.add(filter_downloads=1)
        log.info("risklist filter downloaded: version %d, %d bytes, %d keys", header.version, received,
                 header.key_count)
        return LocalFilter(bloom, header.version, header.list_id)

    def _foreign(self, fingerprint: str, what: str) -> NoReturn:
        """Refuse a filter or update built under another secret; the next check asks the server again first."""
        self._counters.add(secret_mismatches=1)
        self._network.invalidate()
        raise ForeignFilter(f"{what} names network secret {fingerprint or 'none'}, not this client's "
                            f"{self._network.fingerprint}; it is not used, checks go to the server")


def _check_parameters(header: pb.FilterHeader) -> None:
    parameters = header.parameters
    if parameters.algorithm != ALGORITHM or parameters.bits_per_key != BITS_PER_MASK:
        raise FilterError(
            f"the server's filter is {parameters.algorithm!r} with {parameters.bits_per_key} bits per key; "
            f"this SDK knows {ALGORITHM!r} with {BITS_PER_MASK} (upgrade risklist-client)"
        )
    words = parameters.word_count
    if words < 1 or words & (words - 1) or header.total_bytes != words * 8:
        raise FilterError(f"the filter header is inconsistent ({words} words, {header.total_bytes} bytes)")


def _describe(error: Exception) -> str:
    """A one-line reason for the log; never raises (it runs in the refresh thread's error handler)."""
    code = getattr(error, "code", None)
    details = getattr(error, "details", None)
    if isinstance(error, grpc.RpcError) and callable(code) and callable(details):
        status = code()
        return f"{status.name if status else 'UNKNOWN'}: {details()}"
    return f"{type(error).__name__}: {error}"


def _another_list(ours: str, theirs: str) -> bool:
    """Whether an update counts another list's versions than our filter: both name one, and they differ (an update
    naming none comes from a server that predates list ids, whose versions we can only trust as before)."""
    return bool(theirs) and theirs != ours
