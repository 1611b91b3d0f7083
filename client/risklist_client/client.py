"""RiskListClient: checks that normalise and digest locally and skip the network when the filter says "not listed"."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from types import TracebackType
from typing import Any

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_client.channel import close_watched_channel, open_channel
from risklist_client.contributions import (
    Entry,
    Report,
    ReportResult,
    RevokeResult,
    entry_from_response,
    report_message,
)
from risklist_client.errors import CheckFailed, SecretMismatch
from risklist_client.filter_sync import FilterListener, FilterSync, LocalFilter
from risklist_client.metrics import ClientMetrics, Counters
from risklist_client.network_check import NetworkCheck
from risklist_client.positive_cache import PositiveCache
from risklist_client.result import CheckResult, from_verdict, not_listed
from risklist_client.targets import TargetLike, parse_target
from risklist_kernel.digest import KEY_SIZE, Digester
from risklist_kernel.enums import Category, EntityType, Outcome
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret

EntityTypeLike = EntityType | str
"""An EntityType, or its name: "account", "card", "phone", "device", "id_number", "ip", "email"."""

_KINDS: dict[EntityTypeLike, EntityType] = {**{kind: kind for kind in EntityType},
                                             **{kind.feed_name: kind for kind in EntityType}}
_KEY_PREFIX = {kind: bytes((kind,)) for kind in EntityType}
"""A storage key is the entity-type byte, then the digest."""
_BY_VALUE = {int(kind): kind for kind in EntityType}

DEFAULT_UPDATE_INTERVAL = 2.0
DEFAULT_MAX_STALENESS = 10.0
DEFAULT_DEADLINE = 1.0
DEFAULT_POSITIVE_CACHE_SECONDS = 10.0


class RiskListClient:
    """A partner's connection to a risklist network: one channel, one local filter, thread-safe.

    `target`: the server's "host:port"; or a cluster's nodes, as a list of "IP:port" (or one string of them
    separated by commas) or one DNS name with a record per node ("dns:///risk.example:50051"): calls then go
    to the nodes whose health says SERVING, and a call cut by a dying node is retried on another
    (risklist_client.targets; InvalidTarget for an unusable address). `server_name`: the name the nodes'
    certificate carries, when it is not the first address of a list (or the dns: name).
    `credentials`: grpc.ssl_channel_credentials(root, key, chain) for a mutual-TLS server; None
    for a plaintext `--insecure-dev` server. `secret`: the network secret (digests are made
    here, so raw identifiers never leave the bank). With `prescreen`, a local filter of every
    listed subject answers "not listed" for most checks; it is refreshed every
    `update_interval` seconds, and while it is not loaded or was last refreshed more than
    `max_staleness` seconds ago, every check goes to the server. `deadline` bounds each server
    call in seconds. A listed answer from the server is reused for up to `positive_cache_seconds`
    while the filter is fresh, unless an update names its key first (0: always ask the server;
    cached answers, like filter answers, never reach the server's audit trail).
    docs/client.md is the integration guide.
    """

    def __init__(
        self,
        target: TargetLike,
        credentials: grpc.ChannelCredentials | None = None,
        *,
        secret: NetworkSecret,
        prescreen: bool = True,
        update_interval: float = DEFAULT_UPDATE_INTERVAL,
        max_staleness: float = DEFAULT_MAX_STALENESS,
        deadline: float = DEFAULT_DEADLINE,
        default_region: str = "CN",
        batch_size: int = 1000,
        max_backoff: float = 60.0,
        download_deadline: float = 300.0,
        channel_options: Sequence[tuple[str, Any]] = (),
        positive_cache_seconds: float = DEFAULT_POSITIVE_CACHE_SECONDS,
        server_name: str | None = None,
    ) -> None:
        if not isinstance(secret, NetworkSecret):
            raise TypeError("secret must be a NetworkSecret (risklist_client.load_secret(path) reads one)")
        if update_interval <= 0 or max_staleness <= 0 or deadline <= 0 or batch_size < 1:
            raise ValueError("update_interval, max_staleness and deadline must be positive, batch_size ≥ 1")
        self._normaliser = Normaliser(default_region)
        self._digester = Digester(secret)
        self._deadline = deadline
        self._download_deadline = download_deadline
        self._batch_size = batch_size
        where = parse_target(target, server_name=server_name)
        self._channel = open_channel(where, credentials, channel_options)
        self._stub = pb_grpc.RiskListStub(self._channel)
        self._counters = Counters()
        stub = self._stub
        self._network = NetworkCheck(
            lambda timeout: stub.GetNetworkInfo(pb.GetNetworkInfoRequest(), timeout=timeout), secret.fingerprint,
            self._counters, target=where.describe(), deadline=deadline, retry_interval=update_interval)
        # Any change of connection (a drop, a reconnect, perhaps to another server) makes the next check ask again.
        # With several nodes this is the channel's state as a whole: it changes only once no node is connected
        # (the nodes of one cluster share its secret; filters and updates name theirs, and are checked).
        self._channel.subscribe(self._on_connectivity, try_to_connect=False)
        self._filter_answer = not_listed(-1, "filter")
        self._clock = time.monotonic
        self._sync: FilterSync | None = None
        self._cache = PositiveCache(positive_cache_seconds if prescreen else 0.0)
        if prescreen:
            self._sync = FilterSync(self._stub, self._counters, network=self._network, update_interval=update_interval,
                                    max_staleness=max_staleness, max_backoff=max_backoff,
                                    download_deadline=download_deadline,
                                    on_keys_changed=self._cache.forget, on_reset=self._cache.clear)
            self._sync.start()
        self._closed = False

    # ---- checks ---------------------------------------------------------------------------

    def check(self, entity_type: EntityTypeLike, value: str) -> CheckResult:
        """The answer for one raw identifier; raises InvalidIdentifier or CheckFailed (SecretMismatch)."""
        kind, digest = self._digest(entity_type, value)
        self._require_network(1)
        local = self._screen(kind, digest)
        if local is not None:
            return local
        request = pb.CheckRequest(subject=pb.Subject(type=int(kind), digest=digest))
        try:
            response: pb.CheckResponse = self._stub.Check(request, timeout=self._deadline)
        except grpc.RpcError as error:
            raise self._failed(error, 1) from None
        return self._one_result(kind, digest, response)

    def check_many(self, subjects: Iterable[tuple[EntityTypeLike, str]]) -> list[CheckResult]:
        """Answers in order for (type, raw value) pairs; possible hits go to the server in batches."""
        digested = self._digest_many(subjects)
        self._require_network(len(digested))
        results, pending = self._screen_many(digested)
        for start in range(0, len(pending), self._batch_size):
            part = pending[start : start + self._batch_size]
            request = pb.BatchCheckRequest(subjects=[pb.Subject(type=int(k), digest=d) for _, k, d in part])
            try:
                response: pb.BatchCheckResponse = self._stub.BatchCheck(request, timeout=self._deadline)
            except grpc.RpcError as error:
                raise self._failed(error, len(part)) from None
            self._fill(results, part, response)
        return [result for result in results if result is not None]

    async def check_async(self, entity_type: EntityTypeLike, value: str) -> CheckResult:
        """check() for asyncio: a server call does not block the event loop."""
        kind, digest = self._digest(entity_type, value)
        await self._require_network_async(1)
        local = self._screen(kind, digest)
        if local is not None:
            return local
        request = pb.CheckRequest(subject=pb.Subject(type=int(kind), digest=digest))
        try:
            response: pb.CheckResponse = await _awaitable(self._stub.Check.future(request, timeout=self._deadline))
        except grpc.RpcError as error:
            raise self._failed(error, 1) from None
        return self._one_result(kind, digest, response)

    async def check_many_async(self, subjects: Iterable[tuple[EntityTypeLike, str]]) -> list[CheckResult]:
        """check_many() for asyncio; the batches of possible hits are sent concurrently."""
        digested = self._digest_many(subjects)
        await self._require_network_async(len(digested))
        results, pending = self._screen_many(digested)
        parts = [pending[start : start + self._batch_size] for start in range(0, len(pending), self._batch_size)]
        calls = [
            _awaitable(self._stub.BatchCheck.future(
                pb.BatchCheckRequest(subjects=[pb.Subject(type=int(k), digest=d) for _, k, d in part]),
                timeout=self._deadline))
            for part in parts
        ]
        responses = await asyncio.gather(*calls, return_exceptions=True)
        for part, response in zip(parts, responses, strict=True):
            if isinstance(response, grpc.RpcError):
                raise self._failed(response, len(part)) from None
            if isinstance(response, BaseException):
                raise response
            self._fill(results, part, response)
        return [result for result in results if result is not None]

    # ---- outcomes -------------------------------------------------------------------------

    def report_outcome(self, result: CheckResult, outcome: Outcome | str) -> int:
        """Tell the network what the hit `result` turned out to be; return how many sources it counted for.

        `result` is a listed answer from the server (or the positive cache) within the network's
        outcome window (30 days by default); `outcome` an Outcome or its name: confirmed_fraud,
        false_positive, customer_explained, unknown. ValueError for a result that is no server hit;
        CheckFailed (its `code`, e.g. "FAILED_PRECONDITION" past the window) if the server refuses or
        does not answer. Sending another outcome for the same subject revises the earlier one.
        """
        kind = outcome if isinstance(outcome, Outcome) else Outcome.from_feed_name(outcome)
        if not (result.listed and result.request_id and result.outcome_token and result.subject_key):
            raise ValueError("only a listed answer from the server carries an outcome token: report outcomes of "
                             "results with listed=True and answered_by 'server' or 'cache' (a server older than "
                             "outcome tokens sends none)")
        request = pb.ReportOutcomeRequest(
            hit_request_id=result.request_id, outcome=int(kind), hit_token=result.outcome_token,
            subject=pb.Subject(type=result.subject_key[0], digest=result.subject_key[1:]))
        try:
            response: pb.ReportOutcomeResponse = self._stub.ReportOutcome(request, timeout=self._deadline)
        except grpc.RpcError as error:
            raise _call_failed(error, "outcome report") from None
        return int(response.sources_credited)

    # ---- contributions and entries --------------------------------------------------------

    def report(self, reports: Iterable[Report]) -> ReportResult:
        """Contribute `reports` as this bank (the source is the caller's certificate, never a field).

        Each subject is normalised and digested here: no raw identifier is sent; nothing is sent before
        the server showed it holds this client's secret (SecretMismatch otherwise). Sent in requests of
        `batch_size` reports, each acknowledged once durable; InvalidIdentifier or ValueError (naming
        `reports[i]`) before anything is sent for a bad one, CheckFailed (call "report") if a request
        fails. Reporting the same subject and category again replaces your earlier contribution.
        """
        messages: list[pb.Report] = []
        for index, item in enumerate(reports):
            try:
                kind, digest = self._digest(item.entity_type, item.value)
                messages.append(report_message(item, kind, digest))
            except InvalidIdentifier as error:
                raise InvalidIdentifier(error.entity_type, error.reason, field=f"reports[{index}]") from None
            except ValueError as error:
                raise ValueError(f"reports[{index}]: {error}") from None
        self._require_network(0)  # digests under another network's secret would list subjects nobody checks
        responses: list[pb.ReportResponse] = self._in_batches(
            "report", self._stub.Report, [pb.ReportRequest(reports=messages[start : start + self._batch_size])
                                          for start in range(0, len(messages), self._batch_size)])
        return ReportResult(sum(response.added for response in responses),
                            sum(response.unchanged for response in responses),
                            max((response.list_version for response in responses), default=0),
                            tuple(response.request_id for response in responses))

    def revoke(
        self, subjects: Iterable[tuple[EntityTypeLike, str]], category: Category | str | None = None
    ) -> RevokeResult:
        """Withdraw this bank's own contributions about `subjects` (digested here): of `category`, or every one.

        Other banks' contributions are never touched. Errors as `report` (call "revoke").
        """
        kind_of = None if category is None else (
            category if isinstance(category, Category) else Category.from_feed_name(category))
        digested = self._digest_many(subjects)
        self._require_network(0)
        requests = [pb.RevokeRequest(subjects=[pb.Subject(type=int(k), digest=d)
                                               for k, d in digested[start : start + self._batch_size]],
                                     category=int(kind_of) if kind_of is not None else 0)
                    for start in range(0, len(digested), self._batch_size)]
        responses: list[pb.RevokeResponse] = self._in_batches("revoke", self._stub.Revoke, requests)
        return RevokeResult(sum(response.removed for response in responses),
                            sum(response.not_listed for response in responses),
                            max((response.list_version for response in responses), default=0),
                            tuple(response.request_id for response in responses))

    def _in_batches(self, call: str, method: Any, requests: list[Any]) -> list[Any]:
        """Send `requests` one after the other with the client's deadline; CheckFailed naming `call` stops it."""
        responses = []
        for request in requests:
            try:
                responses.append(method(request, timeout=self._deadline))
            except grpc.RpcError as error:
                raise _call_failed(error, call) from None
        return responses

    def get_entry(self, entity_type: EntityTypeLike, value: str) -> Entry:
        """The verdict on one subject (digested here) and the live contributions behind it, from the server.

        Needs the `read_entries` role; CheckFailed (call "entry lookup", e.g. PERMISSION_DENIED) otherwise.
        """
        kind, digest = self._digest(entity_type, value)
        self._require_network(0)
        request = pb.GetEntryRequest(subject=pb.Subject(type=int(kind), digest=digest))
        try:
            response: pb.GetEntryResponse = self._stub.GetEntry(request, timeout=self._deadline)
        except grpc.RpcError as error:
            raise _call_failed(error, "entry lookup") from None
        return entry_from_response(response, _KEY_PREFIX[kind] + digest)

    def check_keys(self, keys: Sequence[bytes]) -> list[CheckResult]:
        """The server's answers, in order, for storage keys (entity-type byte + 16-byte digest).

        Never answered by the filter or the cache: every key is sent, in BatchCheck requests of
        `batch_size` (what a watchlist uses to confirm a match; each answer is audited). ValueError
        for a key of the wrong size or type; CheckFailed as `check_many`.
        """
        parts: list[tuple[int, EntityType, bytes]] = []
        for index, key in enumerate(keys):
            if len(key) != KEY_SIZE or key[0] not in _BY_VALUE:
                raise ValueError(f"keys[{index}]: a storage key is {KEY_SIZE} bytes, a known entity type first")
            parts.append((index, _BY_VALUE[key[0]], bytes(key[1:])))
        self._require_network(len(parts))
        results: list[CheckResult | None] = [None] * len(parts)
        for start in range(0, len(parts), self._batch_size):
            part = parts[start : start + self._batch_size]
            request = pb.BatchCheckRequest(subjects=[pb.Subject(type=int(k), digest=d) for _, k, d in part])
            try:
                response: pb.BatchCheckResponse = self._stub.BatchCheck(request, timeout=self._deadline)
            except grpc.RpcError as error:
                raise self._failed(error, len(part)) from None
            self._counters.add(checks=len(part), server_checks=len(part))
            self._fill(results, part, response)
        return [result for result in results if result is not None]

    def check_stream(
        self, batches: Iterable[Iterable[tuple[EntityTypeLike, str]]], *, timeout: float | None = None
    ) -> Iterator[list[CheckResult]]:
        """Answers for each batch of (type, raw value) pairs, in order, over one StreamCheck call.

        Each batch is digested and pre-screened here like `check_many`; only its possible hits travel
        on the stream (a batch the filter settles sends nothing). Batches are read as the stream
        needs them, so `batches` may be a generator fed by a queue (a long-lived stream). `timeout`
        bounds the whole stream in seconds (None: unbounded, for a stream fed as payments come).
        UNAVAILABLE is retried only before the first answer (grpc retries no stream later).
        InvalidIdentifier names `batches[i].subjects[j]`; CheckFailed if the stream fails.
        """
        queued: deque[tuple[list[CheckResult | None], list[tuple[int, EntityType, bytes]]]] = deque()
        lock = threading.Lock()
        problem: list[BaseException] = []

        def requests() -> Iterator[pb.BatchCheckRequest]:
            for number, batch in enumerate(batches):
                try:
                    digested = self._digest_many(batch)
                    self._require_network(len(digested))
                except InvalidIdentifier as error:
                    problem.append(InvalidIdentifier(error.entity_type, error.reason,
                                                     field=f"batches[{number}].{error.field}"))
                    return
                except CheckFailed as error:
                    problem.append(error)
                    return
                results, pending = self._screen_many(digested)
                with lock:
                    queued.append((results, pending))
                if pending:
                    yield pb.BatchCheckRequest(subjects=[pb.Subject(type=int(k), digest=d) for _, k, d in pending])

        def settled() -> Iterator[list[CheckResult]]:
            """Batches at the head of the queue that sent nothing (the filter answered them all)."""
            while True:
                with lock:
                    if not queued or queued[0][1]:
                        return
                    results, _ = queued.popleft()
                yield [result for result in results if result is not None]

        responses = self._stub.StreamCheck(requests(), timeout=timeout)
        try:
            for response in responses:
                yield from settled()
                with lock:
                    results, pending = queued.popleft()
                self._fill(results, pending, response)
                yield [result for result in results if result is not None]
        except grpc.RpcError as error:
            if problem:
                raise problem[0] from None
            raise self._failed(error, sum(len(pending) for _, pending in queued) or 1) from None
        finally:
            responses.cancel()
        if problem:
            raise problem[0]
        yield from settled()

    # ---- what a watchlist builds on ----------------------------------------------------------

    @property
    def secret_fingerprint(self) -> str:
        """The fingerprint of this client's network secret (what servers, filters and state files are checked by)."""
        return self._network.fingerprint

    def storage_key(self, entity_type: EntityTypeLike, value: str) -> bytes:
        """The 17-byte storage key (type byte + keyed digest) of a raw identifier, made here; InvalidIdentifier."""
        kind, digest = self._digest(entity_type, value)
        return _KEY_PREFIX[kind] + digest

    def add_filter_listener(self, listener: FilterListener) -> LocalFilter | None:
        """Tell `listener` of every new filter and applied update (risklist_client.filter_sync.FilterListener);
        return the filter as it is now. ValueError for a client made with prescreen=False (it has no filter)."""
        if self._sync is None:
            raise ValueError("a client made with prescreen=False downloads no filter: watchlists need one")
        return self._sync.add_listener(listener)

    def remove_filter_listener(self, listener: FilterListener) -> None:
        if self._sync is not None:
            self._sync.remove_listener(listener)

    def local_filter(self) -> LocalFilter | None:
        """The filter as it is now (updated in place as updates arrive); None before the first download."""
        return self._sync.filter if self._sync is not None else None

    def filter_changes_since(self, version: int) -> Iterator[pb.FilterUpdate]:
        """GetFilterUpdates from `version`: what changed since (keys only; a `reset` one when the server can no
        longer say). SecretMismatch if an update names another secret; CheckFailed if the stream fails."""
        self._require_network(0)
        stream = self._stub.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=version),
                                             timeout=self._download_deadline)
        try:
            for update in stream:
                if update.secret_fingerprint != self._network.fingerprint:
                    self._network.invalidate()
                    raise SecretMismatch(f"a filter update names network secret {update.secret_fingerprint or 'none'}"
                                         f", not this client's {self._network.fingerprint}")
                yield update
        except grpc.RpcError as error:
            raise _call_failed(error, "filter update") from None
        finally:
            stream.cancel()

    # ---- state ----------------------------------------------------------------------------

    def wait_for_filter(self, timeout: float | None = None) -> bool:
        """Block until the first filter is loaded (True) or `timeout` seconds pass (False)."""
        return self._sync is not None and self._sync.wait_loaded(timeout)

    def metrics(self) -> ClientMetrics:
        """A snapshot of the counters and of the filter's state."""
        values: dict[str, Any] = dict(self._counters.values())
        values["secret_verified"] = self._network.verified
        sync = self._sync
        if sync is not None:
            current = sync.filter
            now = self._clock()
            values.update(
                backoff_seconds=sync.backoff,
                filter_loaded=current is not None,
                filter_fresh=sync.usable() is not None,
                filter_age_seconds=-1.0 if sync.last_success == float("-inf") else now - sync.last_success,
            )
            if current is not None:
                values.update(filter_version=current.version, filter_bytes=current.bloom.size_bytes,
                              filter_keys=current.bloom.added)
        known = {f.name for f in fields(ClientMetrics)}
        return ClientMetrics(**{name: value for name, value in values.items() if name in known})

    def close(self) -> None:
        """Stop the refresh thread and close the channel; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._sync is not None:
            self._sync.stop()
        close_watched_channel(self._channel, self._on_connectivity)

    def __enter__(self) -> RiskListClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # ---- internals ------------------------------------------------------------------------

    def _digest(self, entity_type: EntityTypeLike, value: str) -> tuple[EntityType, bytes]:
        kind = _KINDS.get(entity_type)
        if kind is None:
            kind = EntityType.from_feed_name(str(entity_type))
        return kind, self._digester.digest(kind, self._normaliser.normalise(kind, value))

    def _screen(self, kind: EntityType, digest: bytes) -> CheckResult | None:
        """The local answer when the filter is usable and rules the subject out, else None (ask the server)."""
        local = self._sync.usable() if self._sync is not None else None
        if local is None:
            self._counters.add_server_check(fallback=True)
            return None
        key = _KEY_PREFIX[kind] + digest
        if not local.bloom.might_contain(key):
            self._counters.add_answered_locally()
            answer = self._filter_answer
            if answer.list_version != local.version:
                # One immutable answer per filter version: a local "not listed" builds nothing.
                answer = self._filter_answer = not_listed(local.version, "filter")
            return answer
        cached = self._cache.get(key)
        if cached is not None:
            self._counters.add_answered_from_cache()
            return cached
        self._counters.add_server_check(fallback=False)
        return None

    def _require_network(self, count: int) -> None:
        """Before any answer, local or the server's: the server holds this client's secret (else raise)."""
        if self._network.verified:
            return
        try:
            self._network.require()
        except CheckFailed:
            self._counters.add(check_failures=count)
            raise

    async def _require_network_async(self, count: int) -> None:
        if not self._network.verified:  # asking the server blocks: not on the event loop
            await asyncio.get_running_loop().run_in_executor(None, self._require_network, count)

    def _on_connectivity(self, state: grpc.ChannelConnectivity) -> None:
        if state is not grpc.ChannelConnectivity.READY:
            self._network.invalidate()

    def _digest_many(self, subjects: Iterable[tuple[EntityTypeLike, str]]) -> list[tuple[EntityType, bytes]]:
        digested: list[tuple[EntityType, bytes]] = []
        for index, (entity_type, value) in enumerate(subjects):
            try:
                digested.append(self._digest(entity_type, value))
            except InvalidIdentifier as error:
                raise InvalidIdentifier(error.entity_type, error.reason, field=f"subjects[{index}]") from None
        return digested

    def _screen_many(
        self, digested: list[tuple[EntityType, bytes]]
    ) -> tuple[list[CheckResult | None], list[tuple[int, EntityType, bytes]]]:
        results: list[CheckResult | None] = [None] * len(digested)
        pending: list[tuple[int, EntityType, bytes]] = []
        local = self._sync.usable() if self._sync is not None else None
        from_cache = 0
        for index, (kind, digest) in enumerate(digested):
            if local is None:
                pending.append((index, kind, digest))
                continue
            key = _KEY_PREFIX[kind] + digest
            if not local.bloom.might_contain(key):
                results[index] = not_listed(local.version, "filter")
            elif (cached := self._cache.get(key)) is not None:
                results[index] = cached
                from_cache += 1
            else:
                pending.append((index, kind, digest))
        answered = len(digested) - len(pending) - from_cache
        fallback = len(pending) if local is None else 0
        self._counters.add(checks=len(digested), answered_locally=answered, answered_from_cache=from_cache,
                           server_checks=len(pending), fallback_checks=fallback)
        return results, pending

    def _fill(
        self, results: list[CheckResult | None], part: list[tuple[int, EntityType, bytes]],
        response: pb.BatchCheckResponse,
    ) -> None:
        hits = {hit.index: hit for hit in response.hits}
        for position, (index, kind, digest) in enumerate(part):
            hit = hits.get(position)
            if hit is None:
                results[index] = not_listed(response.list_version, "server", response.request_id)
            else:
                results[index] = result = from_verdict(hit.verdict, response.list_version, response.request_id,
                                                       hit.outcome_token, _KEY_PREFIX[kind] + digest)
                self._remember(kind, digest, result)
        self._counters.add(listed=sum(1 for hit in hits.values() if hit.verdict.listed))

    def _one_result(self, kind: EntityType, digest: bytes, response: pb.CheckResponse) -> CheckResult:
        result = from_verdict(response.verdict, response.list_version, response.request_id, response.outcome_token,
                              _KEY_PREFIX[kind] + digest)
        if result.listed:
            self._counters.add(listed=1)
            self._remember(kind, digest, result)
        return result

    def _remember(self, kind: EntityType, digest: bytes, result: CheckResult) -> None:
        """Cache a listed answer only while the filter is fresh and has applied no update newer than it."""
        sync = self._sync
        if sync is None or sync.usable() is None:
            return

        def filter_version() -> int:
            current = sync.filter
            return current.version if current is not None else result.list_version + 1

        self._cache.put(_KEY_PREFIX[kind] + digest, result, filter_version)

    def _failed(self, error: grpc.RpcError, count: int) -> CheckFailed:
        self._counters.add(check_failures=count)
        return _call_failed(error, "risk check")


def _call_failed(error: grpc.RpcError, call: str) -> CheckFailed:
    """A failed call as the SDK's typed error: its status code's name and details."""
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    return CheckFailed(code.name if code is not None else "UNKNOWN", str(details or "no details"), call=call)


def _awaitable(call: Any) -> asyncio.Future[Any]:
    """A grpc future (stub.Method.future) as an asyncio future; cancelling one cancels the call."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(done: Any) -> None:
        if future.done():
            return
        error = done.exception()
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result())

    def on_done(done: Any) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle, done)

    def on_cancel(awaited: asyncio.Future[Any]) -> None:
        if awaited.cancelled():
            call.cancel()

    future.add_done_callback(on_cancel)
    call.add_done_callback(on_done)
    return future
