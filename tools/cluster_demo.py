"""`make cluster`: a local demo cluster. Three nats-servers and three risklist nodes on loopback, the demo banks'
seed feeds loaded through the first node (through the write log, so every node holds them), and a query that
answers the same on every node. The nats-servers require TLS with a client certificate and the nodes' nkey, as
docs/cluster.md recommends (--plaintext-nats: neither). Runs until Ctrl-C; with --check it runs the query against
every node instead, compares the answers and stops (what tests/test_cluster_demo.py runs).

    python -m tools.cluster_demo --dir .demo/cluster --secret-file .demo/network.secret --certs .demo/certs \
        --partners docs/examples/partners.toml --seeds .demo/seeds [--base-port 50061] [--plaintext-nats] [--check]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from risklist_server.process.launch import LaunchedServer, launch
from tools.local_nats import NatsCluster

NODES = 3
QUERY_PARTNER = "east-harbour-bank"
QUERY = ("--type", "phone", "+8613800138000")
BIN = Path(sys.executable).parent


def _node_flags(cluster: NatsCluster, number: int, base_port: int, certs: Path, partners: Path) -> tuple[str, ...]:
    # Ports base, base+1 for node 1 (partner, admin), base+10, base+11 for node 2, ...; 0: free ports.
    listen, admin = (0, 0) if base_port == 0 else (base_port + 10 * (number - 1), base_port + 10 * (number - 1) + 1)
    return ("--workers", "1", "--listen", f"127.0.0.1:{listen}", "--admin-listen", f"127.0.0.1:{admin}",
            "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
            "--client-ca", str(certs / "ca.pem"), "--partners", str(partners),
            *cluster.node_flags(), "--node-id", f"node-{number}", "--log-max-bytes", "256M")


def _tls(certs: Path, partner: str) -> tuple[str, ...]:
    return ("--ca", str(certs / "ca.pem"), "--cert", str(certs / f"{partner}.pem"),
            "--key", str(certs / f"{partner}.key"))


def _load_seeds(seeds: Path, admin_address: str, secret_file: Path, certs: Path) -> None:
    """Every seed feed through `admin_address` as the operator; exit 3 (a few deliberately bad rows) is expected."""
    for feed in sorted([*seeds.glob("*.csv"), *seeds.glob("*.jsonl")]):
        bank = feed.name.split(".")[0]
        loaded = subprocess.run([str(BIN / "risklist-load"), str(feed), "--source", bank, "--server", admin_address,
                                 "--secret-file", str(secret_file), *_tls(certs, "operator"), "--quiet"],
                                capture_output=True, text=True)
        if loaded.returncode not in (0, 3):
            raise SystemExit(f"loading {feed} through {admin_address} failed ({loaded.returncode}):\n{loaded.stderr}")


def _query(node: LaunchedServer, certs: Path) -> list[str]:
    return [str(BIN / "risklist-check"), "--server", node.address, *_tls(certs, QUERY_PARTNER), *QUERY]


def run(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster_demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="where the nats-servers and nodes keep their files")
    parser.add_argument("--secret-file", type=Path, required=True)
    parser.add_argument("--certs", type=Path, required=True, help="risklist-admin certs' directory")
    parser.add_argument("--partners", type=Path, required=True)
    parser.add_argument("--seeds", type=Path, required=True, help="the seed feeds to load")
    parser.add_argument("--base-port", type=int, default=50061, help="node 1's partner port (0: free ports)")
    parser.add_argument("--plaintext-nats", action="store_true",
                        help="nats-servers without TLS or authentication (default: TLS with client certificates "
                        "and an nkey user)")
    parser.add_argument("--check", action="store_true", help="query every node, compare, stop")
    args = parser.parse_args(arguments)

    shutil.rmtree(args.dir, ignore_errors=True)  # a demo starts afresh, as make serve's store does
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    cluster = NatsCluster.create(args.dir / "nats", secure=not args.plaintext_nats)
    nodes: list[LaunchedServer] = []
    try:
        cluster.start()
        for number in range(1, NODES + 1):
            nodes.append(launch(args.dir / f"node-{number}", args.secret_file,
                                _node_flags(cluster, number, args.base_port, args.certs, args.partners)))
        _load_seeds(args.seeds, nodes[0].admin_address, args.secret_file, args.certs)
        if args.check:
            return _check(nodes, args.certs)
        print(f"\nrisklist demo cluster: NATS JetStream on {', '.join(cluster.urls)}; nodes (partner / admin):")
        if cluster.security is not None:
            print(f"  (NATS requires TLS and the nodes' nkey: {' '.join(cluster.security.node_flags())})")
        for number, node in enumerate(nodes, start=1):
            print(f"  node-{number}: {node.address} / {node.admin_address}   files in {args.dir / f'node-{number}'}")
        print(f"\nThe seeds were loaded through node-1. Ask any node, as partner {QUERY_PARTNER}:")
        for node in nodes:
            print("  " + " ".join(_query(node, args.certs)))
        print("\nCtrl-C stops the cluster.", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        for node in nodes:
            node.terminate()
        cluster.stop()


def _check(nodes: list[LaunchedServer], certs: Path) -> int:
    """Every node answers the query the same (once it applied the loads: the last node may be a moment behind)."""
    answers = []
    for node in nodes:
        for _ in range(50):
            checked = subprocess.run(_query(node, certs), capture_output=True, text=True)
            if checked.returncode == 0 and "LISTED" in checked.stdout.upper():
                break
        answers.append((checked.returncode, checked.stdout))
    for number, (code, output) in enumerate(answers, start=1):
        print(f"node-{number}: exit {code}\n{output}")
    verdicts = {output.split("request ")[0] for _, output in answers}  # the request ids differ, nothing else may
    return 0 if len(verdicts) == 1 and all(code == 0 for code, _ in answers) else 1


if __name__ == "__main__":
    sys.exit(run())
