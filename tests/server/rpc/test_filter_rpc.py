"""GetFilter and GetFilterUpdates over real grpc on 127.0.0.1: stream shape, checksum, deltas, resets."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.bloom import ALGORITHM, BITS_PER_MASK, BlockedBloom
from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Removal, Upsert
from risklist_server.core.record import Contribution
from risklist_server.rpc.app import create_server
from risklist_server.rpc.filter_stream import DATA_CHUNK_BYTES, filter_chunks
from risklist_server.services.lookup import LookupService
from risklist_server.store.filter_export import FilterExport, FilterSnapshot
from risklist_server.store.risk_store import RiskStore

CONTRIBUTION = Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, 1_700_000_000, 4_000_000_000)


@pytest.fixture()
def stub(lookup: LookupService, store: RiskStore) -> Iterator[pb_grpc.RiskListStub]:
    export = FilterExport(store, bits_per_key=16, max_removed=2, snapshot_max_age=0, catch_up_grace=0.05)
    server, port, _ = create_server("127.0.0.1:0", lookup, filters=export)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.RiskListStub(channel)
    server.stop(None).wait()


def test_get_filter_streams_header_data_and_a_matching_checksum(
    stub: pb_grpc.RiskListStub, store: RiskStore
) -> None:
    """Header (version, parameters, sizes), then the data, then a trailer whose SHA-256 matches it."""
    keys = [b"\x02" + os.urandom(16) for _ in range(500)]
    store.apply([Upsert(key, CONTRIBUTION) for key in keys])
    chunks = list(stub.GetFilter(pb.GetFilterRequest(), timeout=10))
    header, trailer = chunks[0].header, chunks[-1].trailer
    assert chunks[0].WhichOneof("part") == "header" and chunks[-1].WhichOneof("part") == "trailer"
    assert all(chunk.WhichOneof("part") == "data" for chunk in chunks[1:-1])
    data = b"".join(chunk.data for chunk in chunks[1:-1])
    assert header.version == store.version
    assert header.parameters.algorithm == ALGORITHM and header.parameters.bits_per_key == BITS_PER_MASK
    assert header.total_bytes == len(data) == header.parameters.word_count * 8
    assert header.key_count == 500 and 0 < header.parameters.false_positive_rate < 0.01
    assert trailer.sha256 == hashlib.sha256(data).digest()
    client = BlockedBloom(header.parameters.word_count, data)
    assert all(client.might_contain(key) for key in keys)


def test_filter_data_comes_in_chunks_of_at_most_one_mebibyte() -> None:
    """A 2.5 MiB filter is sent as 1 MiB, 1 MiB and 0.5 MiB data chunks, in order."""
    words = np.arange(2.5 * DATA_CHUNK_BYTES // 8, dtype=np.uint64)
    snapshot = FilterSnapshot(3, len(words), 10, 0.0, words, hashlib.sha256(words.tobytes()).digest())
    chunks = list(filter_chunks(snapshot))
    sizes = [len(chunk.data) for chunk in chunks[1:-1]]
    assert sizes == [DATA_CHUNK_BYTES, DATA_CHUNK_BYTES, DATA_CHUNK_BYTES // 2]
    assert b"".join(chunk.data for chunk in chunks[1:-1]) == words.tobytes()


def test_get_filter_updates_deltas_and_resets(stub: pb_grpc.RiskListStub, store: RiskStore) -> None:
    """Deltas carry the keys listed since; too many removals or a version from the future say reset."""
    first = [b"\x01" + os.urandom(16) for _ in range(4)]
    store.apply([Upsert(key, CONTRIBUTION) for key in first])
    since = store.version
    later = [b"\x01" + os.urandom(16) for _ in range(3)]
    store.apply([Upsert(key, CONTRIBUTION) for key in later])
    updates = list(stub.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=since), timeout=10))
    assert [update.reset for update in updates] == [False]
    assert updates[-1].version == store.version
    sent = updates[0].added_keys
    assert sorted(sent[i : i + 17] for i in range(0, len(sent), 17)) == sorted(later)

    store.apply([Removal(key, "bank-a") for key in first[:3]])
    removed = list(stub.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=since), timeout=10))
    assert removed[-1].reset

    future = list(stub.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=store.version + 1), timeout=10))
    assert [(update.reset, update.version) for update in future] == [(True, store.version)]


def test_filter_rpcs_without_an_export_are_unimplemented(lookup: LookupService) -> None:
    """A server built without a filter export says UNIMPLEMENTED rather than failing obscurely."""
    server, port, _ = create_server("127.0.0.1:0", lookup)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel, pytest.raises(grpc.RpcError) as caught:
            list(pb_grpc.RiskListStub(channel).GetFilter(pb.GetFilterRequest(), timeout=5))
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        server.stop(None).wait()
