"""StreamLimits.sent, without a server: when a stream's response is out with grpc, and what closing it does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from risklist_server.rpc.stream_limits import OpenStream, StreamLimits


def _limits() -> StreamLimits:
    return StreamLimits(per_member=4, total=16, idle_seconds=60)


def test_a_response_counts_as_sending_from_its_yield_until_grpc_asks_for_the_next() -> None:
    stream = OpenStream("bank-a", "GetFilter", context=None)  # type: ignore[arg-type]
    sent = _limits().sent(stream, iter(["header", "chunk"]))
    assert stream.sending_since is None
    assert next(sent) == "header"
    assert stream.sending_since is not None  # grpc is sending it: the client's window may be full
    assert next(sent) == "chunk"
    assert stream.sending_since is not None
    assert list(sent) == [] and stream.sending_since is None


def test_closing_the_stream_closes_the_handlers_generator_at_once() -> None:
    closed: list[bool] = []

    def handler() -> Iterator[Any]:
        try:
            yield "header"
            yield "chunk"
        finally:
            closed.append(True)  # the handler's RpcLog records the call here

    stream = OpenStream("bank-a", "GetFilter", context=None)  # type: ignore[arg-type]
    responses = handler()
    sent = _limits().sent(stream, responses)
    next(sent)
    sent.close()  # grpc drops a call it ended
    assert closed == [True] and stream.sending_since is None
