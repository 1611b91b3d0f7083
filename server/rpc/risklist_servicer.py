"""risklist.v1.RiskList: a thin adapter from protobuf to LookupService."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from google.protobuf.message import DecodeError
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from server.audit.trail import DISCARD, AuditSink
from server.core.digest import KEY_SIZE
from server.core.errors import InvalidSubjects
from server.lookup import LookupService
from server.rpc.caller import caller_of
from server.rpc.convert import subject_from_proto, subjects_from_proto, verdict_to_proto
from server.rpc.request_id import new_request_id
from server.rpc.rpc_log import AuditEntry, RpcLog
from server.rpc.status import DeadlineExpired, RequestCancelled, abort
from server.rpc.wire_batch import packed_digest_keys, split_keys


def _count(audit: AuditEntry) -> int:
    """How many subjects an answer looked up."""
    return len(audit.keys) // KEY_SIZE if isinstance(audit.keys, bytes) else len(audit.keys)


def require_time_left(context: grpc.ServicerContext) -> None:
    """Refuse to start work the caller will no longer wait for."""
    if not context.is_active():
        raise RequestCancelled()
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExpired()


class RiskListServicer(pb_grpc.RiskListServicer):
    """Check, BatchCheck, StreamCheck."""

    def __init__(self, lookup: LookupService, *, log_success: bool = True, audit: AuditSink = DISCARD) -> None:
        self._lookup = lookup
        self._log_success = log_success
        self._audit = audit

    def _rpc(self, method: str) -> RpcLog:
        return RpcLog(method, log_success=self._log_success, audit=self._audit)

    def Check(self, request: pb.CheckRequest, context: grpc.ServicerContext) -> pb.CheckResponse:
        with self._rpc("Check") as rpc:
            rpc.count = 1
            audit = rpc.audit(caller_of(context).partner, new_request_id())
            try:
                require_time_left(context)
                key = self._lookup.storage_key(subject_from_proto(request.subject))
                audit.keys = (key,)
                verdict, version = self._lookup.check_key(key)
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            if verdict.listed:
                rpc.hits = 1
                audit.hits = (0,)
            return pb.CheckResponse(verdict=verdict_to_proto(verdict), list_version=version,
                                    request_id=audit.request_id)

    def BatchCheck(self, request: bytes, context: grpc.ServicerContext) -> pb.BatchCheckResponse:
        """Takes the request's bytes (app.py registers no deserializer): all-digest batches skip protobuf."""
        with self._rpc("BatchCheck") as rpc:
            audit = rpc.audit(caller_of(context).partner, new_request_id())
            try:
                require_time_left(context)
                response = self._batch(request, audit)
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            rpc.count = _count(audit)
            rpc.hits = len(response.hits)
            return response

    def StreamCheck(
        self, request_iterator: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[pb.BatchCheckResponse]:
        """Each message as BatchCheck's request: bytes, all-digest ones read from the wire."""
        with self._rpc("StreamCheck") as rpc:
            partner = caller_of(context).partner
            for number, request in enumerate(request_iterator):
                audit = rpc.audit(partner, new_request_id())
                try:
                    require_time_left(context)
                    response = self._batch(request, audit)
                except InvalidSubjects as error:
                    located = InvalidSubjects(
                        [(f"messages[{number}].{field}", reason) for field, reason in error.violations]
                    )
                    rpc.fail(located)
                    abort(context, located)
                except Exception as error:
                    rpc.fail(error)
                    abort(context, error)
                rpc.count += _count(audit)
                rpc.hits += len(response.hits)
                rpc.answered()  # audited before the answer leaves
                yield response

    def _batch(self, request: bytes, audit: AuditEntry) -> pb.BatchCheckResponse:
        """The response to one BatchCheckRequest's bytes; `audit` gets its keys and hits."""
        packed = packed_digest_keys(request)
        if packed is not None:
            keys = split_keys(packed)
            audit.keys = packed  # as stored: no join per batch
        else:
            try:
                message = pb.BatchCheckRequest.FromString(request)
            except DecodeError:
                raise InvalidSubjects([("subjects", "the request is not a BatchCheckRequest message")]) from None
            keys = self._lookup.storage_keys(subjects_from_proto(message.subjects))
            audit.keys = keys
        hits, version = self._lookup.check_keys(keys)
        audit.hits = [index for index, _ in hits]
        return pb.BatchCheckResponse(
            hits=[pb.Hit(index=index, verdict=verdict_to_proto(verdict)) for index, verdict in hits],
            list_version=version, request_id=audit.request_id,
        )
