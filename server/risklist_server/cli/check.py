"""`risklist-check`: ask a server about one subject and print the verdict."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import DIGEST_SIZE, Digester
from risklist_kernel.enums import Action, Category, EntityType, RiskLevel
from risklist_kernel.errors import InvalidIdentifier, RiskListError
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret, load_secret
from risklist_server.cli.client_tls import add_client_tls_arguments, client_tls_problem, load_client_tls, open_channel
from risklist_server.cli.secret_match import require_same_secret, secret_origin
from risklist_server.core.errors import SecretMismatch


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="risklist-check",
        description="Check one subject against a risklist server and print the verdict.",
    )
    parser.add_argument("--server", default="127.0.0.1:50051", metavar="HOST:PORT",
                        help="server address (default %(default)s)")
    parser.add_argument("--type", required=True, dest="entity_type",
                        choices=[entity_type.feed_name for entity_type in EntityType])
    parser.add_argument("value", help="the identifier (or, with --digest, its digest in hex)")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--digest", action="store_true", help="VALUE is a 32-hex-digit digest")
    form.add_argument("--local-digest", action="store_true",
                      help="normalise and digest here (needs --secret-file), so the raw value "
                      "never leaves this machine; refused (exit 1) if the server's secret is another")
    parser.add_argument("--secret-file", metavar="FILE", help="network secret, for --local-digest")
    parser.add_argument("--region", default="CN", help="default region for phones/IDs (default CN)")
    parser.add_argument("--timeout", type=float, default=5.0, help="deadline in seconds (default 5)")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    add_client_tls_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    entity_type = EntityType.from_feed_name(args.entity_type)
    problem = client_tls_problem(args)
    if problem is not None:
        parser.error(problem)
    try:
        secret = load_secret(args.secret_file) if args.local_digest else None
        subject = _subject(args, entity_type, secret)
        tls = load_client_tls(args)
    except (ValueError, RiskListError) as error:
        parser.error(str(error))
    try:
        with open_channel(args.server, tls) as channel:
            stub = pb_grpc.RiskListStub(channel)
            if secret is not None:  # digests made here: only the server's own secret gives true answers
                require_same_secret(lambda: stub.GetNetworkInfo(pb.GetNetworkInfoRequest(), timeout=args.timeout),
                                    secret.fingerprint, server=args.server, origin=secret_origin(args.secret_file),
                                    nothing_done="Nothing was checked.")
            response = stub.Check(pb.CheckRequest(subject=subject), timeout=args.timeout)
    except SecretMismatch as error:
        print(f"risklist-check: error: {error}", file=sys.stderr)
        return 1
    except grpc.RpcError as error:
        code = error.code()
        print(f"risklist-check: {args.server} answered {code.name}: {error.details()}", file=sys.stderr)
        if code is grpc.StatusCode.UNAVAILABLE:
            print("  is risklist-server running there (make serve starts one)? With mutual TLS, are --ca, "
                  "--cert and --key the files the operator issued for this network?", file=sys.stderr)
        return 2 if code is grpc.StatusCode.INVALID_ARGUMENT else 1
    document = verdict_document(response)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(_human(document))
    return 0


def _subject(args: argparse.Namespace, entity_type: EntityType, secret: NetworkSecret | None) -> pb.Subject:
    if args.digest:
        digest = bytes.fromhex(args.value)
        if len(digest) != DIGEST_SIZE:
            raise ValueError(f"a digest is {DIGEST_SIZE * 2} hex digits")
        return pb.Subject(type=int(entity_type), digest=digest)
    if secret is not None:
        try:
            canonical = Normaliser(args.region).normalise(entity_type, args.value)
        except InvalidIdentifier as error:
            raise ValueError(str(error)) from None
        digest = Digester(secret).digest(entity_type, canonical)
        return pb.Subject(type=int(entity_type), digest=digest)
    return pb.Subject(type=int(entity_type), value=args.value)


def _time(timestamp: Timestamp) -> str | None:
    if not timestamp.seconds:
        return None
    return datetime.fromtimestamp(timestamp.seconds, UTC).isoformat().replace("+00:00", "Z")


def verdict_document(response: pb.CheckResponse) -> dict[str, Any]:
    """The JSON shape `--json` prints (docs/api.md)."""
    verdict = response.verdict
    document: dict[str, Any] = {
        "listed": verdict.listed, "list_version": response.list_version, "request_id": response.request_id,
        "action": Action(verdict.action).feed_name if verdict.action in (1, 2, 3) else "allow",
        "reason_code": verdict.reason_code or "NOT_LISTED",
    }
    if verdict.listed:
        document.update(
            level=RiskLevel(verdict.level).feed_name,
            categories=[Category(number).feed_name for number in verdict.categories],
            source_count=verdict.source_count,
            report_count=verdict.report_count,
            first_reported=_time(verdict.first_reported),
            last_reported=_time(verdict.last_reported),
            expires_at=_time(verdict.expires_at),
            policy_version=verdict.policy_version,
        )
    return document


def _human(document: dict[str, Any]) -> str:
    where = f"(list version {document['list_version']}, request {document['request_id']})"
    if not document["listed"]:
        return f"NOT LISTED {where}"
    return (
        f"LISTED  action={document['action']} ({document['reason_code']})\n"
        f"        level={document['level']}  categories={','.join(document['categories'])}\n"
        f"        sources={document['source_count']}  reports={document['report_count']}  "
        f"first={document['first_reported']}  last={document['last_reported']}  "
        f"expires={document['expires_at']}\n"
        f"        {where}"
    )


if __name__ == "__main__":
    sys.exit(main())
