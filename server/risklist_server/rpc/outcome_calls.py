"""ReportOutcome as a write call: what the writer runs for it, whichever worker received it."""

from __future__ import annotations

from typing import Any

from risklist.v1 import risklist_pb2 as pb

from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.convert import subject_from_proto
from risklist_server.rpc.write_calls import WriteCall
from risklist_server.services.outcomes import OutcomeService


def outcome_calls(service: OutcomeService) -> dict[str, WriteCall[Any, Any]]:
    """The write call of this module by method name; the reporter is always the caller's partner id."""

    def report_outcome(caller: Caller, request_id: str, request: pb.ReportOutcomeRequest) -> pb.ReportOutcomeResponse:
        credited = service.report(caller.partner, request.hit_request_id, subject_from_proto(request.subject),
                                  request.outcome, request.hit_token)
        return pb.ReportOutcomeResponse(sources_credited=credited, request_id=request_id)

    return {"ReportOutcome": WriteCall(pb.ReportOutcomeRequest, pb.ReportOutcomeResponse, report_outcome)}
