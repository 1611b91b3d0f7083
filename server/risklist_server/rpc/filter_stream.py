"""GetFilter and GetFilterUpdates: the partner filter as protobuf streams (docs/api.md, docs/client.md)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.bloom import ALGORITHM, BITS_PER_MASK
from risklist_kernel.digest import KEY_SIZE
from risklist_server.rpc.access.caller import Authenticator
from risklist_server.rpc.decode import decode
from risklist_server.rpc.request_id import new_request_id
from risklist_server.rpc.rpc_log import RpcLog
from risklist_server.rpc.status import RequestCancelled, abort
from risklist_server.store.filter_export import FilterExport, FilterSnapshot

DATA_CHUNK_BYTES = 1 << 20
"""Filter bytes per FilterChunk.data message."""


def filter_chunks(snapshot: FilterSnapshot) -> Iterator[pb.FilterChunk]:
    """Header, data chunks of ≤ 1 MiB in order, trailer with the SHA-256 of all data."""
    data = snapshot.data
    yield pb.FilterChunk(header=pb.FilterHeader(
        version=snapshot.version,
        parameters=pb.FilterParameters(
            algorithm=ALGORITHM, word_count=snapshot.word_count, bits_per_key=BITS_PER_MASK,
            false_positive_rate=snapshot.false_positive_rate),
        total_bytes=len(data),
        key_count=snapshot.key_count,
        secret_fingerprint=snapshot.secret_fingerprint,
        list_id=snapshot.list_id,
    ))
    for offset in range(0, len(data), DATA_CHUNK_BYTES):
        yield pb.FilterChunk(data=bytes(data[offset : offset + DATA_CHUNK_BYTES]))
    yield pb.FilterChunk(trailer=pb.FilterTrailer(sha256=snapshot.sha256))


def get_filter(
    export: FilterExport, gate: Authenticator, request: bytes, context: grpc.ServicerContext, rpc: RpcLog
) -> Iterator[pb.FilterChunk]:
    """The GetFilter stream (role `query`) for a GetFilterRequest's bytes, logged and audited (no subjects)
    through `rpc`."""
    with rpc:
        rpc.audit(gate.caller(context).partner, new_request_id())
        try:
            decode(pb.GetFilterRequest, request)
            snapshot = export.snapshot()
        except Exception as error:
            rpc.fail(error)
            abort(context, error)
        for chunk in filter_chunks(snapshot):
            if not context.is_active():
                rpc.fail(RequestCancelled())
                return
            yield chunk


def get_filter_updates(
    export: FilterExport, gate: Authenticator, request: bytes, context: grpc.ServicerContext, rpc: RpcLog,
) -> Iterator[pb.FilterUpdate]:
    """The GetFilterUpdates stream (role `query`) for a GetFilterUpdatesRequest's bytes, logged and audited
    (no subjects) through `rpc`."""
    with rpc:
        rpc.audit(gate.caller(context).partner, new_request_id())
        try:
            since_version = decode(pb.GetFilterUpdatesRequest, request).since_version
            for delta in export.updates(since_version):
                rpc.hits += len(delta.added_keys) // KEY_SIZE  # keys sent, logged
                yield pb.FilterUpdate(version=delta.version, reset=delta.reset, added_keys=delta.added_keys,
                                      removed_count=delta.removed_count, removed_keys=delta.removed_keys,
                                      secret_fingerprint=export.secret_fingerprint, list_id=export.list_id)
        except Exception as error:
            rpc.fail(error)
            abort(context, error)
