"""The --server sink: stream validated batches to a running server's Admin.Ingest call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_loader.db_sink import RERUN_HINT
from risklist_loader.errors import SinkError
from risklist_loader.sink import BatchCallback, LoadOutcome
from risklist_loader.spool import Batch
from risklist_server.cli.client_tls import ClientTls, open_channel
from risklist_server.cli.secret_match import require_same_secret
from risklist_server.core.mutation import Mutation, Upsert
from risklist_server.services.ingest import LoadMode
from risklist_server.store.apply import ApplyResult

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
TLS_HINT = (" With mutual TLS: do --ca, --cert and --key hold the network's CA and a certificate it issued"
            " (a failed handshake looks like an unreachable server)?")
_MODES = {LoadMode.DELTA: pb.LOAD_MODE_DELTA, LoadMode.SNAPSHOT: pb.LOAD_MODE_SNAPSHOT}
_SHOWN_VIOLATIONS = 3
REFUSED_BEFORE_APPLYING = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
                                     grpc.StatusCode.FAILED_PRECONDITION})
"""Statuses Admin.Ingest ends with only before it applies anything (docs/api.md): the caller is no member or
lacks the admin role, the source is not one it may load under, the secret is another. Whatever batches the
loader had sent by then, nothing was applied."""


def mutation_to_proto(mutation: Mutation) -> pb.Mutation:
    """The wire form of a mutation: the storage key splits into type number and digest."""
    entity_type, digest = mutation.key[0], mutation.key[1:]
    if isinstance(mutation, Upsert):
        contribution = mutation.contribution
        return pb.Mutation(
            action=pb.MUTATION_ACTION_ADD,
            type=entity_type,
            digest=digest,
            category=int(contribution.category),
            level=int(contribution.level),
            reported_at=Timestamp(seconds=contribution.reported_at),
            expires_at=Timestamp(seconds=contribution.expires_at),
            reference=contribution.reference,
        )
    return pb.Mutation(
        action=pb.MUTATION_ACTION_REMOVE,
        type=entity_type,
        digest=digest,
        category=int(mutation.category or 0),
    )


class ServerSink:
    """One client stream per load; the server applies each batch atomically as it arrives."""

    def __init__(
        self, address: str, secret_fingerprint: str, *, connect_timeout: float = 10.0, tls: ClientTls | None = None,
        secret_origin: str = "the loader's network secret",
    ) -> None:
        """`secret_origin` says where the secret behind `secret_fingerprint` came from, for a mismatch's message."""
        self.description = f"server {address}"
        self._secret_origin = secret_origin
        self._tls = tls
        self._address = address
        self._secret_fingerprint = secret_fingerprint
        self._connect_timeout = connect_timeout
        self._channel: grpc.Channel | None = None

    @property
    def is_open(self) -> bool:
        return self._channel is not None

    def open(self) -> None:
        """Connect now (unless connected already) and compare network secrets, so an unreachable server or another
        network's fails the run as validation starts, before anything is sent (SinkError, SecretMismatch)."""
        if self._channel is not None:
            return
        self._channel = open_channel(
            self._address, self._tls,
            options=[("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                     ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
        )
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self._connect_timeout)
        except grpc.FutureTimeoutError:
            self.close()
            raise SinkError(
                f"cannot reach a risklist server at {self._address} within "
                f"{self._connect_timeout:g} s; is risklist-server running, and is this its "
                f"--admin-listen address?{TLS_HINT if self._tls else ''} Nothing was applied."
            ) from None
        stub = pb_grpc.AdminStub(self._channel)
        try:
            # An older server without GetNetworkInfo still compares the fingerprint at Ingest's start.
            require_same_secret(lambda: stub.GetNetworkInfo(pb.GetNetworkInfoRequest(), timeout=self._connect_timeout),
                                self._secret_fingerprint, server=self._address, origin=self._secret_origin,
                                nothing_done="Nothing was sent.")
        except grpc.RpcError as error:
            raise SinkError(self._failure(error, 0)) from None

    def load(
        self, source: str, mode: LoadMode, batches: Iterable[Batch], on_batch: BatchCallback
    ) -> LoadOutcome:
        if self._channel is None:
            raise SinkError("the server connection is not open")
        sent = 0

        def requests() -> Iterator[pb.IngestRequest]:
            nonlocal sent
            yield pb.IngestRequest(start=pb.IngestStart(
                source=source, mode=_MODES[mode], secret_fingerprint=self._secret_fingerprint))
            for batch in batches:
                yield pb.IngestRequest(
                    batch=pb.IngestBatch(mutations=[mutation_to_proto(m) for m in batch.mutations])
                )
                sent += 1
                on_batch(batch, None)

        stub = pb_grpc.AdminStub(self._channel)
        try:
            response = stub.Ingest(requests())
        except grpc.RpcError as error:
            raise SinkError(self._failure(error, sent)) from None
        result = ApplyResult(
            added=response.added,
            unchanged=response.unchanged,
            removed=response.removed,
            not_listed=response.not_listed,
            swept=response.swept,
        )
        return LoadOutcome(result, response.list_version)

    def _failure(self, error: grpc.RpcError, sent: int) -> str:
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = error.details() if isinstance(error, grpc.Call) else str(error)
        message = f"the server at {self._address} answered {code.name}: {details}"
        violations = _violations(error)
        if violations:
            shown = "; ".join(violations[:_SHOWN_VIOLATIONS])
            more = len(violations) - _SHOWN_VIOLATIONS
            message += f" [{shown}{f'; and {more} more' if more > 0 else ''}]"
        if code is grpc.StatusCode.UNAVAILABLE:
            message += " (did the server stop?)"
        if sent and code not in REFUSED_BEFORE_APPLYING:
            message += f"; it may have applied some of the {sent} batch(es) sent; {RERUN_HINT}"
        else:
            message += "; nothing was applied"  # said here only: the server's messages leave it to the status
        return message

    def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            channel.close()


def _violations(error: grpc.RpcError) -> list[str]:
    """The google.rpc.BadRequest field violations the server attached, as 'field: reason'."""
    if not isinstance(error, grpc.Call):
        return []
    try:
        status = rpc_status.from_call(error)
    except ValueError:  # a status detail that contradicts the call's own status
        return []
    if status is None:
        return []
    found: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found.extend(f"{v.field}: {v.description}" for v in bad_request.field_violations)
    return found
