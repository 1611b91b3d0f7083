"""The ceiling: what grpc itself allows on this machine, measured with the same load as the risklist server.

A process serving risklist.v1.RiskList's Check, BatchCheck and StreamCheck with the same grpcio, the same
server construction (risklist_server.rpc.app: thread pool of --threads plus --max-streams, message limits,
connection options) and the same request-streaming registration of byte handlers, but whose handlers do no work:
each answers a fixed, empty response (a miss: what the harness's queries mostly are). The harness sends it the
same h2load bodies as the real server; "of ceiling" in the results is ours ÷ this.

    python -m benchmarks.ceiling_server [--listen 127.0.0.1:0] [--threads 8] [--max-streams 16]
                                        [--arrangement sync|sync-unary|aio]

`--arrangement` measures other ways of serving the same calls (issue 16, item 4: adopt one only if the ceiling
itself is faster): `sync` is the server's own (request-streaming handlers on a thread pool), `sync-unary` the
same pool with unary handlers (grpc reads the request before the handler runs), `aio` grpc.aio's server on one
event loop with unary handlers.

Prints one JSON line {"port": N} once serving, and serves until SIGTERM or SIGINT. Plaintext, like the harness's
server (--insecure-dev): h2load cannot present a client certificate, so neither side is measured with TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator

import grpc
from risklist.v1 import risklist_pb2 as pb

from risklist_server.core.settings import Settings
from risklist_server.rpc.app import ConnectionLimits, _new_server
from risklist_server.rpc.message_limits import MAX_SEND_BYTES, partner_max_receive_bytes
from risklist_server.rpc.rpc_log import RISKLIST_SERVICE

ARRANGEMENTS = ("sync", "sync-unary", "aio")
CHECK_ANSWER = pb.CheckResponse().SerializeToString()
BATCH_ANSWER = pb.BatchCheckResponse().SerializeToString()


def _check(requests: Iterator[bytes], _: grpc.ServicerContext) -> bytes:
    for _request in requests:
        pass
    return CHECK_ANSWER


def _batch_check(requests: Iterator[bytes], _: grpc.ServicerContext) -> bytes:
    for _request in requests:
        pass
    return BATCH_ANSWER


def _stream_check(requests: Iterator[bytes], _: grpc.ServicerContext) -> Iterator[bytes]:
    for _request in requests:
        yield BATCH_ANSWER


def _unary_check(_request: bytes, _: grpc.ServicerContext) -> bytes:
    return CHECK_ANSWER


def _unary_batch_check(_request: bytes, _: grpc.ServicerContext) -> bytes:
    return BATCH_ANSWER


def serve(listen: str, threads: int, max_streams: int, *, unary: bool = False) -> tuple[grpc.Server, int]:
    """A started ceiling server on `listen`, its Check and BatchCheck request-streaming as the real server
    registers them (or, `unary`, unary); (server, bound port). Bytes in, bytes out: nothing is parsed."""
    server = _new_server(threads + max_streams, False, ConnectionLimits(),
                         partner_max_receive_bytes(Settings().max_batch))
    if unary:
        check = grpc.unary_unary_rpc_method_handler(_unary_check, None, None)
        batch_check = grpc.unary_unary_rpc_method_handler(_unary_batch_check, None, None)
    else:
        check = grpc.stream_unary_rpc_method_handler(_check, None, None)
        batch_check = grpc.stream_unary_rpc_method_handler(_batch_check, None, None)
    handlers = {"Check": check, "BatchCheck": batch_check,
                "StreamCheck": grpc.stream_stream_rpc_method_handler(_stream_check, None, None)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(RISKLIST_SERVICE, handlers),))
    server.add_registered_method_handlers(RISKLIST_SERVICE, handlers)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise SystemExit(f"ceiling_server: cannot listen on {listen}")
    server.start()
    return server, port


async def _aio_check(_request: bytes, _: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return CHECK_ANSWER


async def _aio_batch_check(_request: bytes, _: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return BATCH_ANSWER


async def _aio_stream_check(requests: AsyncIterator[bytes],
                            _: grpc.aio.ServicerContext[bytes, bytes]) -> AsyncIterator[bytes]:
    async for _request in requests:
        yield BATCH_ANSWER


async def serve_aio(listen: str, stop: asyncio.Event) -> None:
    """grpc.aio's server with the same message limits; prints the port line once serving, stops on `stop`."""
    server = grpc.aio.server(options=[
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", partner_max_receive_bytes(Settings().max_batch)),
        ("grpc.max_send_message_length", MAX_SEND_BYTES),
    ])
    handlers = {
        "Check": grpc.unary_unary_rpc_method_handler(_aio_check, None, None),
        "BatchCheck": grpc.unary_unary_rpc_method_handler(_aio_batch_check, None, None),
        "StreamCheck": grpc.stream_stream_rpc_method_handler(_aio_stream_check, None, None),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(RISKLIST_SERVICE, handlers),))
    port = server.add_insecure_port(listen)
    if port == 0:
        raise SystemExit(f"ceiling_server: cannot listen on {listen}")
    await server.start()
    print(json.dumps({"port": port}), flush=True)
    await stop.wait()
    await server.stop(grace=1)


def _main_aio(listen: str) -> int:
    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve_aio(listen, stop)

    asyncio.run(run())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-streams", type=int, default=16)
    parser.add_argument("--arrangement", choices=ARRANGEMENTS, default="sync")
    args = parser.parse_args(argv)
    if args.arrangement == "aio":
        return _main_aio(args.listen)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server, port = serve(args.listen, args.threads, args.max_streams, unary=args.arrangement == "sync-unary")
    print(json.dumps({"port": port}), flush=True)
    stop.wait()
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
