"""The network's write-ahead log: one NATS JetStream stream, replicated on up to three servers.

A node appends each write (a LogEntry) with the entry's request id as JetStream's de-duplication id
(Nats-Msg-Id): a publish retried after a lost acknowledgement is stored once, and its acknowledgement names the
first copy's sequence. JetStream acknowledges only once a quorum of the stream's replicas holds the entry, so an
acknowledged sequence survives the loss of a minority of the servers. Without a quorum (or without any server)
append raises LogUnavailable within the caller's deadline, and the entry is not stored then. It is in doubt only
in one case: the stream's leader took it just before it lost its quorum (Raft's uncommitted entry), and commits
it once the quorum returns; the caller's answer says so. The stream sequence orders the network's writes: every
node applies entries by ascending sequence (risklist_server.cluster.applier).

nats-py is asyncio; WriteLog runs its connection on an event loop of its own in a daemon thread and offers
blocking calls to the server's threads. It connects with the node's TLS and nkey (risklist_server.cluster.nats_auth):
a server refusing them at open is a ConfigError at once, and a node requiring TLS refuses a server without it at
every connection (TlsOnlyClient).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from nats.aio.client import Client
from nats.errors import AuthorizationError, ConnectionClosedError, NoRespondersError, OutboundBufferLimitError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoStreamResponseError,
    NotFoundError,
    ServerError,
    ServiceUnavailableError,
)
from nats.js.kv import KeyValue

from risklist_kernel.errors import RiskListError
from risklist_server.cluster.log_entry import InvalidLogEntry, LogEntry, decode_entry
from risklist_server.cluster.nats_auth import NO_AUTH, NatsAuth, ssl_reason
from risklist_server.core.errors import ConfigError, WriteUnavailable

T = TypeVar("T")
log = structlog.get_logger(__name__)


class _TlsEofNotice(logging.Filter):
    """Drops asyncio's notice, at every TLS connection's close, that nats-py's protocol asks to stay half-open at
    EOF (harmless; it would be a bare line amid the node's JSON log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("returning true from eof_received()")


logging.getLogger("asyncio").addFilter(_TlsEofNotice())

STREAM = "RISKLIST_WRITES"
SUBJECT = "risklist.writes"
CLUSTER_BUCKET = "RISKLIST_CLUSTER"
"""The cluster's key-value bucket (JetStream KV) beside the log: values every node must share."""
LEASE_BUCKET = "RISKLIST_LEASES"
"""Leases: at most one node does a job for the cluster (each key expires LEASE_TTL_S after its last renewal)."""
LEASE_TTL_S = 30.0
RETRY_PAUSE_S = 0.05
"""Between attempts of one append while no stream leader answers (an election takes a moment)."""
_UNAVAILABLE = (NatsTimeout, NoRespondersError, NoStreamResponseError, ConnectionClosedError, OutboundBufferLimitError,
                ServiceUnavailableError, ServerError, asyncio.TimeoutError)
"""What a server says (or does not) while JetStream has no quorum, or is recovering one (503 'JetStream system
temporarily unavailable', 500): retried, never a reason to stop applying."""


class PlaintextRefused(NatsError):
    """A NATS server that does not offer TLS, to a node that requires it (--cluster-ca): refused before the node
    sends anything."""

    def __str__(self) -> str:
        return "nats: the server does not offer TLS, which --cluster-ca requires"


class TlsOnlyClient(Client):
    """nats-py's client refusing, at every (re)connection, a server whose INFO does not offer TLS. nats-py upgrades
    to TLS only when the server asks: without this a server without TLS, or one impersonating a server, would be
    talked to in plaintext after a reconnect."""

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        # Called with the server's first INFO before the TLS upgrade and CONNECT (_process_connect_init).
        if initial_connection and not info.get("tls_required"):
            raise PlaintextRefused()
        await super()._process_info(info, initial_connection)


class LogGap(RiskListError):
    """The entry a node needs next is no longer in the log (past its retention): the node cannot catch up by
    reading and stops applying (never skipping entries: its records would silently differ)."""


class LogUnavailable(WriteUnavailable):
    """The log did not acknowledge within the deadline: no quorum of its servers answered. Not applied anywhere now;
    applied later only if the stream's leader took it just before it lost its quorum (see the module's description)."""


@dataclass(frozen=True, slots=True)
class LogSettings:
    """The stream's shape. `replicas`: servers holding each entry (a quorum of them acknowledges); retention by
    age and by bytes bounds the stream (a node further behind restores a checkpoint, issue 14 item 5);
    `duplicate_window_s`: how long a request id is remembered for de-duplication."""

    replicas: int = 3
    max_age_s: float = 7 * 24 * 3600.0
    max_bytes: int = 64 * 2**30
    duplicate_window_s: float = 120.0
    stream: str = STREAM
    subject: str = SUBJECT


async def _settle() -> None:
    """Let the loop finish what is left on it before it stops: cancel its other tasks and wait for them, and close
    what nobody holds any more (a connection nats-py dropped after a refused TLS handshake) while the loop still
    runs its close callbacks; an object of the loop collected after the loop closed warns of an unclosed socket."""
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)


class WriteLog:
    """A connection to the log's NATS servers with blocking append and read (see the module's description)."""

    def __init__(self, servers: Sequence[str], settings: LogSettings = LogSettings(), *,
                 connect_timeout_s: float = 5.0, network: str | None = None, auth: NatsAuth = NO_AUTH) -> None:
        """`network`: the network secret's fingerprint. The stream is created naming it, and a stream that names
        another (or none) is refused: a node must never apply, or add to, another network's writes. `auth`: TLS and
        the nkey the node connects with (risklist_server.cluster.nats_auth)."""
        self._servers = list(servers)
        self._auth = auth
        self._refusal: asyncio.Future[ConfigError] | None = None
        """While connecting at open: set by the error callback when a server refuses this node's TLS or nkey."""
        self._network = network
        self._description = None if network is None else f"risklist write log of network {network}"
        self.settings = settings
        self._connect_timeout_s = connect_timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="write-log", daemon=True)
        self._client: Client | None = None
        self._stream: JetStreamContext | None = None
        self._reader: JetStreamContext.PullSubscription | None = None
        self._reader_after = 0
        self._reader_stale = False
        self._outage_reported = False
        self._closing = False
        self.stream_replicas = settings.replicas
        """How many servers hold the stream (known once open): the buckets beside it are made as replicated."""

    def open(self, *, create: bool = True) -> WriteLog:
        """Connect and make sure the stream exists (created with `settings` if it does not, or with `create=False`
        ConfigError: an operator's tool never makes a cluster); LogUnavailable if no server answers within the
        connect timeout."""
        self._thread.start()
        try:
            self._run(self._open(create), self._connect_timeout_s * 3 + 5.0)
        except BaseException:
            self.close()
            raise
        return self

    async def _open(self, create: bool) -> None:
        self._client = await self._connect()
        self._stream = self._client.jetstream()
        settings = self.settings
        description = self._description
        try:
            info = await self._stream.stream_info(settings.stream)
            if description is not None and info.config.description != description:
                raise ConfigError(
                    f"the stream {settings.stream} on {', '.join(self._servers)} holds the writes of another network "
                    f"({info.config.description or 'no network named'}); this node's secret has fingerprint "
                    f"{self._network}: point --cluster at this network's NATS servers, or run with its secret")
            self.stream_replicas = int(info.config.num_replicas or 1)
        except NotFoundError:
            if not create:
                raise ConfigError(f"no risklist cluster on {', '.join(self._servers)}: its write log's stream "
                                  f"{settings.stream} does not exist; check the addresses, or start a node "
                                  "first") from None
            try:
                await self._stream.add_stream(StreamConfig(
                    name=settings.stream, description=description, subjects=[settings.subject],
                    num_replicas=settings.replicas,
                    max_age=settings.max_age_s, max_bytes=settings.max_bytes, storage=StorageType.FILE,
                    duplicate_window=settings.duplicate_window_s))
            except APIError as error:
                raise ConfigError(
                    f"the NATS servers refused to create the write log's stream {settings.stream} ({settings.replicas} "
                    f"replicas, at most {settings.max_bytes:,} bytes, {settings.max_age_s:g} s): {error.description}; "
                    "give their JetStream more storage (max_file_store) or the stream fewer bytes") from None
            except _UNAVAILABLE as error:
                raise self._no_quorum(error) from None
        except _UNAVAILABLE as error:
            raise self._no_quorum(error) from None

    async def _connect(self) -> Client:
        """The first connection, within the timeout; ConfigError at once if a server refuses this node's credentials
        or TLS (retrying cannot help), LogUnavailable if none answers."""
        client = TlsOnlyClient() if self._auth.tls else Client()
        self._refusal = asyncio.get_running_loop().create_future()
        # Once connected it reconnects for ever (a server restarting is routine); the first connection must
        # succeed within the timeout, or the node is misconfigured or cut off and says so.
        options: dict[str, Any] = dict(
            servers=self._servers, connect_timeout=self._connect_timeout_s, max_reconnect_attempts=-1,
            reconnect_time_wait=0.1, allow_reconnect=True,
            # No buffering while reconnecting: a buffered append would be sent once the connection returns,
            # long after its caller was answered UNAVAILABLE.
            pending_size=0, error_cb=self._on_error, disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected, **self._auth.connect_options())
        connecting = asyncio.ensure_future(client.connect(**options))
        waiting: set[asyncio.Future[Any]] = {connecting, self._refusal}
        try:
            done, _ = await asyncio.wait(waiting, timeout=2 * self._connect_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            refusal, self._refusal = self._refusal, None
        if connecting in done and connecting.exception() is None:
            return client
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await client.close()
        if refusal in done:
            raise refusal.result()
        error = connecting.exception() if connecting in done else None
        reason = type(error).__name__ if error is not None else "no answer"
        raise LogUnavailable(f"no NATS server of {', '.join(self._servers)} answered within "
                             f"{2 * self._connect_timeout_s:g} s ({reason}): check the addresses and that the "
                             "servers run")

    def _refused(self, error: Exception) -> ConfigError | None:
        """What a server's refusal of this node's TLS or credentials says to do; None for any other error."""
        auth = self._auth
        if isinstance(error, PlaintextRefused):
            return ConfigError("a NATS server does not offer TLS, which --cluster-ca asks for: give every NATS server "
                               "a tls {} block (docs/cluster.md), or drop --cluster-ca on a network you trust")
        if isinstance(error, ssl.SSLCertVerificationError):
            trust = f"--cluster-ca {auth.ca}" if auth.ca else "this machine's default CAs (no --cluster-ca given)"
            return ConfigError(f"a NATS server's certificate is not trusted by {trust} ({error.verify_message}): "
                               "give --cluster-ca the CA that issued the NATS servers' certificates")
        if isinstance(error, ssl.SSLError):
            return ConfigError(f"TLS with a NATS server failed ({ssl_reason(error)}): if the servers verify clients, "
                               "give --cluster-cert and --cluster-key a certificate their CA issued")
        if isinstance(error, AuthorizationError) or "authorization violation" in str(error).lower():
            if auth.nkey_public is None:
                return ConfigError("the NATS servers refused this node ('Authorization Violation'): they require "
                                   "credentials; give --cluster-nkey the seed of a user their authorization block "
                                   "lists (docs/cluster.md)")
            return ConfigError(f"the NATS servers refused this node's nkey {auth.nkey_public} (--cluster-nkey "
                               f"{auth.nkey_seed}; 'Authorization Violation'): list that public key in their "
                               "authorization block, or give --cluster-nkey the seed of a user they list "
                               "(docs/cluster.md)")
        return None

    def _no_quorum(self, error: Exception) -> LogUnavailable:
        return LogUnavailable(f"the write log's stream {self.settings.stream} did not answer ({type(error).__name__}): "
                              "its NATS servers lack a JetStream quorum; start them, or check their logs")

    async def _on_error(self, error: Exception) -> None:
        refusal = self._refusal
        if refusal is not None and not refusal.done() and (refused := self._refused(error)) is not None:
            refusal.set_result(refused)
        # nats-py calls this at every failed reconnect attempt (every reconnect_time_wait): once per outage here.
        if not self._outage_reported:
            self._outage_reported = True
            log.warning("write_log_connection_error", error=f"{type(error).__name__}: {error}")

    async def _on_disconnected(self) -> None:
        if not self._closing:  # closing it is no outage
            log.warning("write_log_disconnected")

    async def _on_reconnected(self) -> None:
        assert self._client is not None
        self._outage_reported = False
        log.info("write_log_reconnected", server=_netloc(self._client))

    def append(self, entry: LogEntry, *, timeout_s: float) -> int:
        """Store `entry` (de-duplicated by its request id) and return its stream sequence; LogUnavailable if no
        quorum acknowledged it within `timeout_s`."""
        return self._run(self._append(entry, timeout_s), timeout_s + 1.0)

    async def _append(self, entry: LogEntry, timeout_s: float) -> int:
        assert self._stream is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        payload = entry.encode()
        last: Exception | None = None
        while (remaining := deadline - loop.time()) > 0:
            try:
                acknowledged = await self._stream.publish(
                    self.settings.subject, payload, timeout=min(remaining, 1.0), stream=self.settings.stream,
                    headers={"Nats-Msg-Id": entry.request_id})
                return int(acknowledged.seq)
            except _UNAVAILABLE as error:  # no leader (yet), or no server: retry until the deadline
                last = error
                await asyncio.sleep(min(RETRY_PAUSE_S, max(0.0, deadline - loop.time())))
        raise LogUnavailable(f"the write log did not acknowledge request {entry.request_id} within {timeout_s:g} s "
                             f"(no quorum of its NATS servers: {type(last).__name__ if last else 'deadline'}); if "
                             "the stream's leader took it just before losing its quorum, it is applied once the "
                             "quorum returns: retry it then (Report and Revoke are idempotent, a load can be re-run)")

    def read(self, after: int, *, limit: int, timeout_s: float) -> list[tuple[int, LogEntry]]:
        """Up to `limit` entries with sequences above `after`, in order; fewer if the log holds no more; none only
        once the stream itself said it holds nothing after `after` (within `timeout_s`). LogUnavailable if the log
        cannot be read; InvalidLogEntry if the entry after `after` is not one this node can read, LogGap if the log
        no longer holds it (the entries before either are returned first)."""
        try:
            return self._run(self._read(after, limit, timeout_s), timeout_s + 5.0)
        except LogUnavailable:
            # A read cut short may leave messages delivered to its abandoned fetch (the server sends them again
            # only after the acknowledgement wait): the next read starts a new consumer from `after`.
            self._reader_stale = True
            raise

    async def _read(self, after: int, limit: int, timeout_s: float) -> list[tuple[int, LogEntry]]:
        # One pull consumer serves consecutive reads (an applier's); a read from elsewhere, or an error, makes a
        # new one from there. The consumer is ephemeral: JetStream drops it once idle, nothing to clean up.
        try:
            if self._reader is None or self._reader_after != after or self._reader_stale:
                self._reader_stale = False
                await self._drop_reader()
                assert self._stream is not None
                # No acknowledgements: the position is this node's own (its store's), and a read cut short
                # starts a new consumer from it; an acknowledged consumer cost the servers a message per entry.
                config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1,
                                        ack_policy=AckPolicy.NONE, inactive_threshold=30.0)
                self._reader = await self._stream.pull_subscribe(self.settings.subject, durable=None,
                                                                 stream=self.settings.stream, config=config)
                self._reader_after = after
            try:
                messages = await self._reader.fetch(limit, timeout=timeout_s)
            except NatsTimeout:
                # Nothing came. Only the stream (its leader) can say whether nothing was written after `after`,
                # or the consumer is gone with the server that held it (ephemeral consumers live on one server)
                # and will never deliver: then this read failed, and the next makes a new consumer.
                assert self._stream is not None
                info = await self._stream.stream_info(self.settings.stream)
                if int(info.state.last_seq) > after:
                    await self._drop_reader()
                    raise LogUnavailable(f"the write log holds entries after {after} that its reader did not "
                                         "deliver (its server gone?)") from None
                return []
        except (*_UNAVAILABLE, NatsError) as error:  # any error of the connection: read again, never stop applying
            await self._drop_reader()
            raise LogUnavailable(f"the write log cannot be read: {type(error).__name__}") from None
        entries: list[tuple[int, LogEntry]] = []
        for message in messages:
            sequence = int(message.metadata.sequence.stream)
            if sequence <= self._reader_after:
                continue
            if sequence != self._reader_after + 1:
                # Entries skipped: either gone (past the log's retention) or delivered to an earlier fetch that
                # was abandoned. Only the stream can tell; either way the next read starts a new consumer.
                missing = self._reader_after + 1
                await self._drop_reader()
                if entries:
                    return entries
                if not await self._holds(missing):
                    raise LogGap(f"the write log no longer holds entry {missing} (the next it holds is {sequence}: "
                                 "past its retention, or deleted): this node cannot catch up by reading it; "
                                 "rebuild the node from another node's backup (docs/cluster.md)")
                return await self._read(after, limit, timeout_s)  # from a new consumer, at the entry skipped
            try:
                entry = decode_entry(message.data)
            except InvalidLogEntry as error:
                await self._drop_reader()  # the next read starts again at this entry
                if entries:
                    return entries  # the ones before it are applied first
                raise InvalidLogEntry(f"log entry {sequence}: {error}") from None
            entries.append((sequence, entry))
            self._reader_after = sequence
        return entries

    async def _holds(self, sequence: int) -> bool:
        """Whether the stream still holds entry `sequence`; LogUnavailable if it cannot say."""
        assert self._stream is not None
        try:
            await self._stream.get_msg(self.settings.stream, seq=sequence)
        except NotFoundError:
            return False
        except (*_UNAVAILABLE, NatsError) as error:
            raise LogUnavailable(f"the write log cannot be read: {type(error).__name__}") from None
        return True

    async def _drop_reader(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            with contextlib.suppress(Exception):  # a consumer already gone needs no unsubscribing
                await reader.unsubscribe()

    def cluster_value(self, key: str, proposed: bytes, *, timeout_s: float = 15.0) -> bytes:
        """The value the cluster keeps under `key` in its bucket (CLUSTER_BUCKET, as replicated as the log): the
        first node to ask sets it to `proposed`, every later one gets that. LogUnavailable without a quorum."""
        return self._run(self._cluster_value(key, proposed), timeout_s)

    async def _cluster_value(self, key: str, proposed: bytes) -> bytes:
        try:
            bucket = await self._bucket(KeyValueConfig(
                bucket=CLUSTER_BUCKET, history=1, replicas=self.settings.replicas,
                description=None if self._network is None else f"risklist values of network {self._network}"))
            try:
                await bucket.create(key, proposed)
                return proposed
            except KeyWrongLastSequenceError:  # another node set it first
                entry = await bucket.get(key)
                return bytes(entry.value or b"")
        except _UNAVAILABLE as error:
            raise self._no_quorum(error) from None

    def bucket_get(self, config: KeyValueConfig, key: str, *, timeout_s: float = 5.0) -> tuple[int, bytes] | None:
        """The revision and value of `key` in the bucket `config` names (made with `config` if missing), or None if
        the key holds nothing (never set, deleted or purged). LogUnavailable without a quorum."""
        return self._run(self._bucket_get(config, key), timeout_s)

    async def _bucket_get(self, config: KeyValueConfig, key: str) -> tuple[int, bytes] | None:
        try:
            bucket = await self._bucket(config)
            try:
                entry = await bucket.get(key)
            except KeyNotFoundError:  # deleted and purged keys too
                return None
            return int(entry.revision or 0), bytes(entry.value or b"")
        except (*_UNAVAILABLE, NatsError) as error:
            raise self._no_quorum(error) from None

    def bucket_put(self, config: KeyValueConfig, key: str, value: bytes, *, timeout_s: float = 15.0) -> int:
        """Set `key` to `value` in the bucket `config` names (made with `config` if missing); its new revision.
        LogUnavailable without a quorum."""
        return self._run(self._bucket_put(config, key, value), timeout_s)

    async def _bucket_put(self, config: KeyValueConfig, key: str, value: bytes) -> int:
        try:
            return int(await (await self._bucket(config)).put(key, value))
        except _UNAVAILABLE as error:
            raise self._no_quorum(error) from None

    async def _bucket(self, config: KeyValueConfig) -> KeyValue:
        """The key-value bucket `config` names, made with `config` by the first node that finds none."""
        assert self._stream is not None
        try:
            return await self._stream.key_value(config.bucket)
        except BucketNotFoundError:
            return await self._stream.create_key_value(config)

    async def _lease_bucket(self) -> KeyValue:
        """The leases' bucket (its entries expire LEASE_TTL_S after their last write)."""
        return await self._bucket(KeyValueConfig(bucket=LEASE_BUCKET, history=1, ttl=LEASE_TTL_S,
                                                 replicas=self.settings.replicas))

    def clock_offset(self, node_id: str, *, timeout_s: float = 5.0) -> tuple[float, float]:
        """This machine's clock minus the NATS servers' (seconds), and how far off that may be (half the round trip):
        from one write to the lease bucket, which the stream's leader stamps with its own time as it stores it.
        LogUnavailable without a quorum."""
        return self._run(self._clock_offset(f"clock.{node_id}"), timeout_s)

    async def _clock_offset(self, key: str) -> tuple[float, float]:
        assert self._stream is not None
        try:
            bucket = await self._lease_bucket()
            before = time.time()
            revision = await bucket.put(key, b"")
            after = time.time()
            stored = await self._stream.get_msg(f"KV_{LEASE_BUCKET}", seq=revision)
        except (*_UNAVAILABLE, NatsError) as error:
            raise self._no_quorum(error) from None
        if stored.time is None:
            raise LogUnavailable("the NATS servers gave no time for a stored message")
        return (before + after) / 2 - stored.time.timestamp(), (after - before) / 2

    def hold_lease(self, name: str, holder: str, *, timeout_s: float = 5.0) -> bool:
        """Whether `holder` holds the lease `name` now: taken if it is free (or expired: LEASE_TTL_S after its
        holder last renewed it), renewed if `holder` has it, False if another holds it. LogUnavailable without a
        quorum (then nobody can take it over either)."""
        return self._run(self._hold_lease(name, holder.encode()), timeout_s)

    async def _hold_lease(self, name: str, holder: bytes) -> bool:
        try:
            bucket = await self._lease_bucket()
            try:
                entry = await bucket.get(name)
            except KeyNotFoundError:  # free, or expired (or deleted): take it, unless another node just did
                try:
                    await bucket.create(name, holder)
                    return True
                except KeyWrongLastSequenceError:
                    return False
            if entry.value != holder:
                return False
            try:
                await bucket.update(name, holder, last=entry.revision)
                return True
            except KeyWrongLastSequenceError:  # it expired and another node took it meanwhile
                return False
        except _UNAVAILABLE as error:
            raise self._no_quorum(error) from None

    def last_sequence(self, *, timeout_s: float = 5.0) -> int:
        """The stream's last sequence (0 while empty): how far the network has written."""
        return self._run(self._last_sequence(), timeout_s)

    async def _last_sequence(self) -> int:
        assert self._stream is not None
        try:
            info = await self._stream.stream_info(self.settings.stream)
        except (*_UNAVAILABLE, NatsError) as error:
            raise LogUnavailable(f"the write log's state is unknown: {type(error).__name__}") from None
        return int(info.state.last_seq)

    def first_sequence(self, *, timeout_s: float = 5.0) -> int:
        """The oldest entry the stream still holds (past last_sequence while empty): entries before it are gone
        with the stream's retention, so a node behind it restores a checkpoint (risklist_server.cluster.rejoin)."""
        return self.with_jetstream(self._first_sequence, timeout_s=timeout_s)

    async def _first_sequence(self, stream: JetStreamContext) -> int:
        info = await stream.stream_info(self.settings.stream)
        return int(info.state.first_seq)

    def with_jetstream(self, work: Callable[[JetStreamContext], Awaitable[T]], *, timeout_s: float) -> T:
        """`work` run on this connection's JetStream context (on its loop); LogUnavailable if the servers do not
        answer, without a quorum, or within `timeout_s`."""
        return self._run(self._with_jetstream(work), timeout_s)

    async def _with_jetstream(self, work: Callable[[JetStreamContext], Awaitable[T]]) -> T:
        assert self._stream is not None
        try:
            return await work(self._stream)
        except _UNAVAILABLE as error:
            raise self._no_quorum(error) from None

    def _run(self, work: Coroutine[Any, Any, T], timeout_s: float) -> T:
        try:
            future = asyncio.run_coroutine_threadsafe(work, self._loop)
        except RuntimeError:  # the loop is closed: close() came first
            work.close()
            raise LogUnavailable("the write log is closed") from None
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise LogUnavailable(f"the write log did not answer within {timeout_s:g} s") from None
        except CancelledError:  # close() cancelled what was still running on the loop
            raise LogUnavailable("the write log was closed while this call waited for it") from None

    def close(self) -> None:
        """Drain and close the connection, then stop the loop's thread."""
        self._closing = True
        if self._client is not None and self._loop.is_running():
            with contextlib.suppress(LogUnavailable):
                self._run(self._client.close(), 10.0)
            self._client = None
        if self._loop.is_running():
            with contextlib.suppress(LogUnavailable, TimeoutError):
                self._run(_settle(), 10.0)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> WriteLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _netloc(client: Client) -> str | None:
    """HOST:PORT of the server `client` is connected to (never a URL's user or password)."""
    url = client.connected_url
    if url is None or url.hostname is None:
        return None
    return f"{url.hostname}:{url.port}" if url.port else url.hostname
