"""risklist.v1.RiskList: a thin adapter from protobuf to LookupService."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from google.protobuf.message import DecodeError
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from server.core.errors import InvalidSubjects, WriterUnavailable
from server.core.verdict import Verdict
from server.lookup import LookupService
from server.outcomes import OutcomeService
from server.rpc.caller import caller_of
from server.rpc.convert import subject_from_proto, subjects_from_proto, verdict_to_proto
from server.rpc.request_id import new_request_id
from server.rpc.rpc_log import RpcLog
from server.rpc.status import DeadlineExpired, RequestCancelled, abort
from server.rpc.wire_batch import digest_keys


def require_time_left(context: grpc.ServicerContext) -> None:
    """Refuse to start work the caller will no longer wait for."""
    if not context.is_active():
        raise RequestCancelled()
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExpired()


class RiskListServicer(pb_grpc.RiskListServicer):
    """Check, BatchCheck, StreamCheck, ReportOutcome."""

    def __init__(
        self, lookup: LookupService, *, outcomes: OutcomeService | None = None, log_success: bool = True
    ) -> None:
        self._lookup = lookup
        self._outcomes = outcomes
        self._log_success = log_success

    def ReportOutcome(
        self, request: pb.ReportOutcomeRequest, context: grpc.ServicerContext
    ) -> pb.ReportOutcomeResponse:
        with RpcLog("ReportOutcome", log_success=self._log_success) as rpc:
            rpc.count = 1
            try:
                if self._outcomes is None:
                    raise WriterUnavailable("this server process cannot record outcomes")
                reporter = caller_of(context).partner
                credited = self._outcomes.report(
                    reporter, request.hit_request_id, subject_from_proto(request.subject), request.outcome)
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            return pb.ReportOutcomeResponse(sources_credited=credited, request_id=new_request_id())

    def Check(self, request: pb.CheckRequest, context: grpc.ServicerContext) -> pb.CheckResponse:
        with RpcLog("Check", log_success=self._log_success) as rpc:
            rpc.count = 1
            try:
                require_time_left(context)
                verdict, version = self._lookup.check(subject_from_proto(request.subject))
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            rpc.hits = int(verdict.listed)
            return pb.CheckResponse(verdict=verdict_to_proto(verdict), list_version=version)

    def BatchCheck(self, request: bytes, context: grpc.ServicerContext) -> pb.BatchCheckResponse:
        """Takes the request's bytes (app.py registers no deserializer): all-digest batches skip protobuf."""
        with RpcLog("BatchCheck", log_success=self._log_success) as rpc:
            try:
                require_time_left(context)
                response, rpc.count = self._batch(request)
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            rpc.hits = len(response.hits)
            return response

    def StreamCheck(
        self, request_iterator: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[pb.BatchCheckResponse]:
        """Each message as BatchCheck's request: bytes, all-digest ones read from the wire."""
        with RpcLog("StreamCheck", log_success=self._log_success) as rpc:
            for number, request in enumerate(request_iterator):
                try:
                    require_time_left(context)
                    response, count = self._batch(request)
                    rpc.count += count
                except InvalidSubjects as error:
                    located = InvalidSubjects(
                        [(f"messages[{number}].{field}", reason) for field, reason in error.violations]
                    )
                    rpc.fail(located)
                    abort(context, located)
                except Exception as error:
                    rpc.fail(error)
                    abort(context, error)
                rpc.hits += len(response.hits)
                yield response

    def _batch(self, request: bytes) -> tuple[pb.BatchCheckResponse, int]:
        """The response to one BatchCheckRequest's bytes, and how many subjects it held."""
        keys = digest_keys(request)
        if keys is not None:
            return self._response(*self._lookup.check_keys(keys)), len(keys)
        try:
            message = pb.BatchCheckRequest.FromString(request)
        except DecodeError:
            raise InvalidSubjects([("subjects", "the request is not a BatchCheckRequest message")]) from None
        subjects = subjects_from_proto(message.subjects)
        return self._response(*self._lookup.check_batch(subjects)), len(subjects)

    @staticmethod
    def _response(hits: list[tuple[int, Verdict]], version: int) -> pb.BatchCheckResponse:
        return pb.BatchCheckResponse(
            hits=[pb.Hit(index=index, verdict=verdict_to_proto(verdict)) for index, verdict in hits],
            list_version=version,
        )
