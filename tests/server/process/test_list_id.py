"""Every answer that carries a list version also names the list it counts (the store's id), the same on both ports
of a server, and another store's differs: what lets a partner's SDK tell it reached another list."""

from __future__ import annotations

from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from tests.support.running_server import start_server


def _list_ids(address: str, admin_address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel, grpc.insecure_channel(admin_address) as admin_channel:
        stub = pb_grpc.RiskListStub(channel)
        header = next(iter(stub.GetFilter(pb.GetFilterRequest(), timeout=10))).header
        updates = list(stub.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=0), timeout=10))
        return {stub.GetNetworkInfo(pb.GetNetworkInfoRequest(), timeout=10).list_id, header.list_id,
                *(update.list_id for update in updates),
                pb_grpc.AdminStub(admin_channel).GetNetworkInfo(pb.GetNetworkInfoRequest(), timeout=10).list_id}


def test_a_server_names_one_list_everywhere_and_another_store_another(tmp_path: Path, secret_file: Path) -> None:
    first = start_server(tmp_path / "first", secret_file, "--workers", "2")
    try:
        (first_id,) = _list_ids(first.address, first.admin_address)
    finally:
        first.terminate()
    second = start_server(tmp_path / "second", secret_file)
    try:
        (second_id,) = _list_ids(second.address, second.admin_address)
    finally:
        second.terminate()
    assert first_id and second_id and first_id != second_id
