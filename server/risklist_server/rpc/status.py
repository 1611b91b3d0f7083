"""Mapping errors to gRPC statuses, in one place; BadRequest details for invalid subjects."""

from __future__ import annotations

import math
from typing import NoReturn

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from risklist_kernel.errors import RiskListError
from risklist_server.core.errors import (
    BackupError,
    BatchTooLarge,
    InvalidSubjects,
    NotAuthenticated,
    NotPermitted,
    OutcomeNotProven,
    QuotaExceeded,
    SecretMismatch,
    SourceNotAllowed,
    StoreError,
    StreamLimitReached,
    WriteUnavailable,
)


class DeadlineExpired(Exception):
    """The caller's deadline passed before the work started."""


class RequestCancelled(Exception):
    """The caller went away mid-call."""


class RequestNotReceived(Exception):
    """The call ended before its (next) request message arrived; `status` names (a code_pb2 name) what its
    caller got (risklist_server.rpc.requests)."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the call ended ({status}) before its request arrived")
        self.status = status


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
    if isinstance(error, RequestNotReceived):
        return status_pb2.Status(code=code_pb2.Code.Value(error.status), message=str(error))
    if isinstance(error, NotImplementedError):
        return status_pb2.Status(code=code_pb2.UNIMPLEMENTED, message=str(error) or "not served here")
    if isinstance(error, InvalidSubjects):
        return _bad_request(str(error), error.violations)
    if isinstance(error, BatchTooLarge):
        return _bad_request(str(error), [(error.items, str(error))])
    if isinstance(error, SecretMismatch):
        return status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(error))
    if isinstance(error, OutcomeNotProven):
        return _outcome_not_proven(error)
    if isinstance(error, NotAuthenticated):
        return status_pb2.Status(code=code_pb2.UNAUTHENTICATED, message=str(error))
    if isinstance(error, NotPermitted | SourceNotAllowed):
        return status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message=str(error))
    if isinstance(error, QuotaExceeded):
        return _quota_exhausted(error)
    if isinstance(error, StreamLimitReached):
        return status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=str(error))
    if isinstance(error, BackupError):
        return status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(error))
    if isinstance(error, WriteUnavailable):
        return status_pb2.Status(code=code_pb2.UNAVAILABLE, message=f"write not acknowledged: {error}")
    if isinstance(error, StoreError):
        return status_pb2.Status(code=code_pb2.UNAVAILABLE, message=f"store unavailable: {error}")
    if isinstance(error, RiskListError):
        return status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(error))
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; see the server log")


MAX_VIOLATIONS = 100
"""BadRequest details list at most this many field violations, and at most MAX_DETAIL_BYTES of them; the
rest are counted (an ErrorInfo, and the message). A client refuses trailers over 8 KiB in all
(grpc's default limit): 200 violations overflowed it, and the client saw RESOURCE_EXHAUSTED."""
MAX_DETAIL_BYTES = 3_600
"""Serialized BadRequest bytes at most: base64 in the trailer makes them 4.8 KiB."""
MAX_MESSAGE_BYTES = 500
"""UTF-8 bytes of a status message at most (percent-encoded in the trailer: 1.5 KiB at worst)."""
MAX_FIELD_CHARS = 120
MAX_DESCRIPTION_CHARS = 240
TOO_MANY_VIOLATIONS = "TOO_MANY_VIOLATIONS"
"""ErrorInfo.reason when violations were left out; metadata `total` and `listed` give the counts."""
ERROR_DOMAIN = "risklist.v1"


def _clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clip_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "..."


def _bad_request(message: str, violations: list[tuple[str, str]]) -> status_pb2.Status:
    """INVALID_ARGUMENT with BadRequest details: the first violations, each clipped, as many as fit
    MAX_VIOLATIONS and MAX_DETAIL_BYTES, and (when some are left out) an ErrorInfo counting them, said in
    the message too."""
    detail = error_details_pb2.BadRequest()
    for field, reason in violations[:MAX_VIOLATIONS]:
        detail.field_violations.add(field=_clip(field, MAX_FIELD_CHARS),
                                    description=_clip(reason, MAX_DESCRIPTION_CHARS))
        if detail.ByteSize() > MAX_DETAIL_BYTES:
            del detail.field_violations[-1]
            break
    listed = len(detail.field_violations)
    left_out = len(violations) - listed
    if left_out:
        counted = (f"; the details list the first {listed} of {len(violations)} violations: fix them and retry "
                   "to see the rest")
        message = _clip_bytes(message, MAX_MESSAGE_BYTES - len(counted)) + counted
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message)
    status.details.add().Pack(detail)
    if left_out:
        status.details.add().Pack(error_details_pb2.ErrorInfo(
            reason=TOO_MANY_VIOLATIONS, domain=ERROR_DOMAIN,
            metadata={"total": str(len(violations)), "listed": str(listed)}))
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


OUTCOME_TOKEN = "OUTCOME_TOKEN"
"""PreconditionFailure violation type of a ReportOutcome refused for want of a valid hit token."""


def _outcome_not_proven(error: OutcomeNotProven) -> status_pb2.Status:
    """FAILED_PRECONDITION with a google.rpc.PreconditionFailure naming the hit_token field."""
    status = status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(error))
    status.details.add().Pack(error_details_pb2.PreconditionFailure(violations=[
        error_details_pb2.PreconditionFailure.Violation(
            type=OUTCOME_TOKEN, subject="hit_token", description=_clip(str(error), MAX_DESCRIPTION_CHARS))
    ]))
    return status


def abort(context: grpc.ServicerContext, error: Exception) -> NoReturn:
    """End the RPC with the status mapped from `error`."""
    status = status_for(error)
    status.message = _clip_bytes(status.message, MAX_MESSAGE_BYTES)  # the message is a trailer too
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("unreachable: abort_with_status raises")


def status_name(error: Exception) -> str:
    """The gRPC status code name for logs, e.g. INVALID_ARGUMENT."""
    return str(code_pb2.Code.Name(status_for(error).code))
