"""The ceiling server answers every RiskList shape the harness sends, with no work, over a real socket."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb

from benchmarks.ceiling_server import ARRANGEMENTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=ARRANGEMENTS)
def ceiling(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """The ceiling served each way it can be (sync as the server, sync with unary handlers, grpc.aio)."""
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.ceiling_server", "--threads", "2",
                                "--max-streams", "2", "--arrangement", request.param], stdout=subprocess.PIPE,
                               text=True, cwd=ROOT)
    assert process.stdout is not None
    port = int(json.loads(process.stdout.readline())["port"])
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stdout.close()


def test_unary_shapes_get_an_empty_answer(ceiling: tuple[subprocess.Popen[str], int]) -> None:
    """Check and BatchCheck answer a miss whatever was asked (nothing is parsed or looked up)."""
    _, port = ceiling
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        check = channel.unary_unary("/risklist.v1.RiskList/Check", response_deserializer=pb.CheckResponse.FromString)
        batch = channel.unary_unary("/risklist.v1.RiskList/BatchCheck",
                                    response_deserializer=pb.BatchCheckResponse.FromString)
        assert check(pb.CheckRequest(subject=pb.Subject(type=1, value="x")).SerializeToString(),
                     timeout=10) == pb.CheckResponse()
        assert batch(b"not even a message", timeout=10) == pb.BatchCheckResponse()


def test_a_stream_gets_one_answer_per_message(ceiling: tuple[subprocess.Popen[str], int]) -> None:
    _, port = ceiling
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stream = channel.stream_stream("/risklist.v1.RiskList/StreamCheck",
                                       response_deserializer=pb.BatchCheckResponse.FromString)
        answers = list(stream(iter([b"a", b"b", b"c"]), timeout=10))
    assert answers == [pb.BatchCheckResponse()] * 3


def test_other_methods_are_unimplemented(ceiling: tuple[subprocess.Popen[str], int]) -> None:
    """It measures lookups only: a write shape is refused, not silently answered."""
    _, port = ceiling
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        report = channel.unary_unary("/risklist.v1.RiskList/Report")
        with pytest.raises(grpc.RpcError) as raised:
            report(b"", timeout=10)
    assert raised.value.code() is grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]


def test_sigterm_stops_it_cleanly(ceiling: tuple[subprocess.Popen[str], int]) -> None:
    process, _ = ceiling
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
