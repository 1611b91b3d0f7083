"""Report and Revoke as write calls: what the writer runs for them, whichever worker received them."""

from __future__ import annotations

from typing import Any

from risklist.v1 import risklist_pb2 as pb

from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.convert import subjects_from_proto
from risklist_server.rpc.convert_contributions import report_inputs_from_proto
from risklist_server.rpc.write_calls import WriteCall
from risklist_server.services.contributions import ContributionService


def contribution_calls(service: ContributionService) -> dict[str, WriteCall[Any, Any]]:
    """The write calls of this module by method name; the source is always the caller's partner id."""

    def report(caller: Caller, request_id: str, request: pb.ReportRequest) -> pb.ReportResponse:
        result = service.report(caller.partner, report_inputs_from_proto(request))
        return pb.ReportResponse(added=result.added, unchanged=result.unchanged,
                                 list_version=result.version, request_id=request_id)

    def revoke(caller: Caller, request_id: str, request: pb.RevokeRequest) -> pb.RevokeResponse:
        result = service.revoke(caller.partner, subjects_from_proto(request.subjects), request.category)
        return pb.RevokeResponse(removed=result.removed, not_listed=result.not_listed,
                                 list_version=result.version, request_id=request_id)

    return {
        "Report": WriteCall(pb.ReportRequest, pb.ReportResponse, report),
        "Revoke": WriteCall(pb.RevokeRequest, pb.RevokeResponse, revoke),
    }
