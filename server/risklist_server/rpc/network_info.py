"""GetNetworkInfo (RiskList and Admin): which network secret a server digests under, so clients compare first."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.secret import NetworkSecret
from risklist_server.rpc.access.caller import Authenticator
from risklist_server.rpc.decode import decode
from risklist_server.rpc.request_id import new_request_id
from risklist_server.rpc.rpc_log import RpcLog
from risklist_server.rpc.status import abort

_DEMO_FINGERPRINT = NetworkSecret.demo().fingerprint


def get_network_info(
    request: bytes, secret_fingerprint: str, version: Callable[[], int], gate: Authenticator,
    context: grpc.ServicerContext, rpc: RpcLog, *, list_id: str = "",
) -> pb.GetNetworkInfoResponse:
    """The server's secret fingerprint, list version and list id for the request's bytes, logged and audited (no
    subjects) through `rpc`; undecodable bytes are the caller's error (INVALID_ARGUMENT)."""
    with rpc:
        audit = rpc.audit(gate.caller(context).partner, new_request_id())
        try:
            decode(pb.GetNetworkInfoRequest, request)
            list_version = version()
        except Exception as error:
            rpc.fail(error)
            abort(context, error)
        return pb.GetNetworkInfoResponse(
            secret_fingerprint=secret_fingerprint, list_version=list_version,
            demo_secret=secret_fingerprint == _DEMO_FINGERPRINT, request_id=audit.request_id, list_id=list_id)
