"""Which list a server's answers name (its list id) on every call that carries one, on both its ports."""

from __future__ import annotations

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc


def list_ids(address: str, admin_address: str) -> set[str]:
    """The list ids of GetNetworkInfo (both ports), GetFilter's header and GetFilterUpdates from version 0."""
    with grpc.insecure_channel(address) as channel, grpc.insecure_channel(admin_address) as admin_channel:
        stub = pb_grpc.RiskListStub(channel)
        header = next(iter(stub.GetFilter(pb.GetFilterRequest(), timeout=10))).header
        updates = list(stub.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=0), timeout=10))
        return {stub.GetNetworkInfo(pb.GetNetworkInfoRequest(), timeout=10).list_id, header.list_id,
                *(update.list_id for update in updates),
                pb_grpc.AdminStub(admin_channel).GetNetworkInfo(pb.GetNetworkInfoRequest(), timeout=10).list_id}
