"""What the access gate costs per RPC in mutual-TLS mode: admit (CN, role, request quota) + subject charge.

In-process with a stand-in context that answers as grpc does for a CN-only client certificate
(peer_identity_key/peer_identities, ~0.3 µs in grpc itself, measured separately); then what grpc's own
`context.peer()` costs inside a real handler (the gate records each admitted call's peer for the
connection shedder). Usage:
  python -m benchmarks.access_gate [--calls 200000]
"""

from __future__ import annotations

import argparse
import time
from concurrent import futures

from risklist_server.core.partners import Partner, Quota, Rate, Role
from risklist_server.rpc.access.config import Security, TlsFiles
from risklist_server.rpc.access.gate import Gate


class _Context:
    def peer(self) -> str:
        return "ipv4:127.0.0.1:51514"

    def peer_identity_key(self) -> str:
        return "x509_common_name"

    def peer_identities(self) -> list[bytes]:
        return [b"bank-a"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    partners = {f"bank-{n}": Partner(f"bank-{n}", frozenset({Role.QUERY}),
                                     Quota(Rate(1e12, 1e12), Rate(1e12, 1e12))) for n in "abcdefgh"}
    gate = Gate(Security(TlsFiles(b"", b"", b""), partners))
    context = _Context()
    started = time.perf_counter()
    for _ in range(args.calls):
        gate.admit(context, Role.QUERY, "BatchCheck")  # type: ignore[arg-type]
        gate.charge_subjects(context, 1000)  # type: ignore[arg-type]
    per_call = (time.perf_counter() - started) / args.calls * 1e6
    print(f"access gate, admit + charge_subjects per RPC: {per_call:.2f} µs ({args.calls} calls)")
    print(f"grpc context.peer() in a real handler: {_peer_cost(args.calls):.2f} µs per call")


def _peer_cost(calls: int) -> float:
    """µs per context.peer() call, timed inside one unary handler of a loopback grpc server."""
    import grpc

    measured: list[float] = []

    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        started = time.perf_counter()
        for _ in range(calls):
            context.peer()
        measured.append((time.perf_counter() - started) / calls * 1e6)
        return b""

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "bench.Peer", {"Time": grpc.unary_unary_rpc_method_handler(handler)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            channel.unary_unary("/bench.Peer/Time")(b"", timeout=120)  # type: ignore[arg-type]  # untyped bytes call
    finally:
        server.stop(None)
    return measured[0]


if __name__ == "__main__":
    main()
