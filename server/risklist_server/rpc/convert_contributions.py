"""Protobuf <-> core conversions for Report, Revoke and GetEntry."""

from __future__ import annotations

from risklist.v1 import risklist_pb2 as pb

from risklist_server.core.entry import Entry
from risklist_server.core.report import ReportInput
from risklist_server.rpc.convert import subject_from_proto, verdict_to_proto


def report_inputs_from_proto(request: pb.ReportRequest) -> list[ReportInput]:
    """Unchecked inputs (core.report checks them); an unset expires_at is None."""
    return [
        ReportInput(
            subject=subject_from_proto(report.subject),
            category=report.category,
            level=report.level,
            reference=report.reference,
            expires_at=report.expires_at.seconds if report.HasField("expires_at") else None,
        )
        for report in request.reports
    ]


def entry_to_proto(entry: Entry, list_version: int, request_id: str) -> pb.GetEntryResponse:
    return pb.GetEntryResponse(
        verdict=verdict_to_proto(entry.verdict),
        contributions=[
            pb.EntryContribution(
                source=shown.source,
                own=shown.own,
                category=int(shown.category),
                level=int(shown.level),
                reported_at={"seconds": shown.reported_at},
                expires_at={"seconds": shown.expires_at},
                reference=shown.reference,
            )
            for shown in entry.contributions
        ],
        sources_disclosed=entry.sources_disclosed,
        list_version=list_version,
        request_id=request_id,
    )
