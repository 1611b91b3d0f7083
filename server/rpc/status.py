"""Mapping errors to gRPC statuses, in one place; BadRequest details for invalid subjects."""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.core.errors import (
    BatchTooLarge,
    InvalidSubjects,
    RiskListError,
    SecretMismatch,
    StoreError,
    WriterUnavailable,
)


class DeadlineExpired(Exception):
    """The caller's deadline passed before the work started."""


class RequestCancelled(Exception):
    """The caller went away mid-call."""


def status_for(error: Exception) -> status_pb2.Status:
    """The google.rpc.Status a caller sees for `error` (never a stack trace)."""
    if isinstance(error, DeadlineExpired):
        return status_pb2.Status(code=code_pb2.DEADLINE_EXCEEDED, message="deadline exceeded")
    if isinstance(error, RequestCancelled):
        return status_pb2.Status(code=code_pb2.CANCELLED, message="cancelled by the caller")
    if isinstance(error, InvalidSubjects):
        return _bad_request(str(error), error.violations)
    if isinstance(error, BatchTooLarge):
        return _bad_request(str(error), [("subjects", str(error))])
    if isinstance(error, SecretMismatch):
        return status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(error))
    if isinstance(error, WriterUnavailable):
        return status_pb2.Status(code=code_pb2.UNAVAILABLE, message=f"{error}; retry shortly")
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


def abort(context: grpc.ServicerContext, error: Exception) -> NoReturn:
    """End the RPC with the status mapped from `error`."""
    context.abort_with_status(rpc_status.to_status(status_for(error)))
    raise AssertionError("unreachable: abort_with_status raises")


def status_name(error: Exception) -> str:
    """The gRPC status code name for logs, e.g. INVALID_ARGUMENT."""
    return str(code_pb2.Code.Name(status_for(error).code))
