"""Mapping errors to gRPC statuses, in one place; BadRequest details for invalid subjects."""

from __future__ import annotations

import math
from typing import NoReturn

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from risklist_kernel.errors import RiskListError
from risklist_server.core.errors import (
    BatchTooLarge,
    InvalidSubjects,
    NotAuthenticated,
    NotOwnContribution,
    NotPermitted,
    QuotaExceeded,
    SecretMismatch,
    StoreError,
    StreamLimitReached,
)


class DeadlineExpired(Exception):
    """The caller's deadline passed before the work started."""


class RequestCancelled(Exception):
    """The caller went away mid-call."""


class ForwardedStatus(Exception):
    """The status another of the server's processes ended a forwarded call with, passed on as is."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


def status_for(error: Exception) -> status_pb2.Status:
    """The google.rpc.Status a caller sees for `error` (never a stack trace)."""
    if isinstance(error, DeadlineExpired):
        return status_pb2.Status(code=code_pb2.DEADLINE_EXCEEDED, message="deadline exceeded")
    if isinstance(error, RequestCancelled):
        return status_pb2.Status(code=code_pb2.CANCELLED, message="cancelled by the caller")
    if isinstance(error, ForwardedStatus):
        return error.status
    if isinstance(error, NotOwnContribution):
        return status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message=str(error))
    if isinstance(error, NotImplementedError):
        return status_pb2.Status(code=code_pb2.UNIMPLEMENTED, message=str(error) or "not served here")
    if isinstance(error, InvalidSubjects):
        return _bad_request(str(error), error.violations)
    if isinstance(error, BatchTooLarge):
        return _bad_request(str(error), [("subjects", str(error))])
    if isinstance(error, SecretMismatch):
        return status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(error))
    if isinstance(error, NotAuthenticated):
        return status_pb2.Status(code=code_pb2.UNAUTHENTICATED, message=str(error))
    if isinstance(error, NotPermitted):
        return status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message=str(error))
    if isinstance(error, QuotaExceeded):
        return _quota_exhausted(error)
    if isinstance(error, StreamLimitReached):
        return status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=str(error))
    if isinstance(error, StoreError):
        return status_pb2.Status(code=code_pb2.UNAVAILABLE, message=f"store unavailable: {error}")
    if isinstance(error, RiskListError):
        return status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(error))
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; see the server log")


def _bad_request(message: str, violations: list[tuple[str, str]]) -> status_pb2.Status:
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=reason)
            for field, reason in violations
        ]
    )
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message)
    status.details.add().Pack(detail)
    return status


def _quota_exhausted(error: QuotaExceeded) -> status_pb2.Status:
    """RESOURCE_EXHAUSTED with google.rpc.RetryInfo (when to retry) and QuotaFailure (which quota)."""
    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=str(error))
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.FromNanoseconds(max(1_000_000, math.ceil(error.retry_after * 1000) * 1_000_000))
    status.details.add().Pack(retry)
    status.details.add().Pack(error_details_pb2.QuotaFailure(violations=[
        error_details_pb2.QuotaFailure.Violation(
            subject=f"partner:{error.partner}",
            description=f"{error.dimension}_per_second: {error.per_second:g} (see docs/api.md, quotas)",
        )
    ]))
    return status


def abort(context: grpc.ServicerContext, error: Exception) -> NoReturn:
    """End the RPC with the status mapped from `error`."""
    context.abort_with_status(rpc_status.to_status(status_for(error)))
    raise AssertionError("unreachable: abort_with_status raises")


def status_name(error: Exception) -> str:
    """The gRPC status code name for logs, e.g. INVALID_ARGUMENT."""
    return str(code_pb2.Code.Name(status_for(error).code))
