"""The ceiling: what grpc itself allows on this machine, measured with the same load as the risklist server.

A process serving risklist.v1.RiskList's Check, BatchCheck and StreamCheck with the same grpcio, the same
server construction (risklist_server.rpc.app: thread pool of --threads plus --max-streams, message limits,
connection options) and the same request-streaming registration of byte handlers, but whose handlers do no work:
each answers a fixed, empty response (a miss: what the harness's queries mostly are). The harness sends it the
same h2load bodies as the real server; "of ceiling" in the results is ours ÷ this.

    python -m benchmarks.ceiling_server [--listen 127.0.0.1:0] [--threads 8] [--max-streams 16]

Prints one JSON line {"port": N} once serving, and serves until SIGTERM or SIGINT. Plaintext, like the harness's
server (--insecure-dev): h2load cannot present a client certificate, so neither side is measured with TLS.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator

import grpc
from risklist.v1 import risklist_pb2 as pb

from risklist_server.core.settings import Settings
from risklist_server.rpc.app import ConnectionLimits, _new_server
from risklist_server.rpc.message_limits import partner_max_receive_bytes
from risklist_server.rpc.rpc_log import RISKLIST_SERVICE

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


def serve(listen: str, threads: int, max_streams: int) -> tuple[grpc.Server, int]:
    """A started ceiling server on `listen`; (server, bound port)."""
    server = _new_server(threads + max_streams, False, ConnectionLimits(),
                         partner_max_receive_bytes(Settings().max_batch))
    identity = None  # bytes in, bytes out: neither side parses, as neither does the real server's registration
    handlers = {
        "Check": grpc.stream_unary_rpc_method_handler(_check, identity, identity),
        "BatchCheck": grpc.stream_unary_rpc_method_handler(_batch_check, identity, identity),
        "StreamCheck": grpc.stream_stream_rpc_method_handler(_stream_check, identity, identity),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(RISKLIST_SERVICE, handlers),))
    server.add_registered_method_handlers(RISKLIST_SERVICE, handlers)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise SystemExit(f"ceiling_server: cannot listen on {listen}")
    server.start()
    return server, port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-streams", type=int, default=16)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server, port = serve(args.listen, args.threads, args.max_streams)
    print(json.dumps({"port": port}), flush=True)
    stop.wait()
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
