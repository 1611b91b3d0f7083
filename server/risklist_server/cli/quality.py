"""`risklist-admin quality`: the per-source precision and volume table, from Admin.GetQuality."""

from __future__ import annotations

import argparse
import json
import sys

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_server.cli.admin_command import Command, UsageError
from risklist_server.cli.client_tls import add_client_tls_arguments, client_tls_problem, load_client_tls, open_channel

COLUMNS = ("source", "live", "confirmed", "false_pos", "explained", "unknown", "precision")
LEGACY_COLUMNS = ("source", "confirmed", "false_pos", "explained", "unknown")
LEGACY_TITLE = ("Outcomes recorded before outcomes were verified (unverified: anyone could send them; "
                "the policy ignores them):")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--admin", metavar="ADDR", default="127.0.0.1:50052",
                        help="the server's admin address (--admin-listen; default %(default)s)")
    add_client_tls_arguments(parser, used_with=" with a certificate of a partner holding the admin role")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (table)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for the answer (default %(default)s; the call scans the store)")


def _legacy(counts: pb.OutcomeCounts) -> dict[str, int] | None:
    """The legacy (unverified) outcome counts, None when there are none."""
    values = {"confirmed": counts.confirmed_fraud, "false_pos": counts.false_positive,
              "explained": counts.customer_explained, "unknown": counts.unknown}
    return values if any(values.values()) else None


def rows(response: pb.GetQualityResponse) -> list[dict[str, object]]:
    """One dict per source: verified outcome counts, precision (None while no confirmed/false-positive verified
    outcome exists), and `legacy_unverified` (counts recorded before outcomes were verified, or None)."""
    return [
        {
            "source": row.source, "live": row.live_contributions, "confirmed": row.confirmed_fraud,
            "false_pos": row.false_positive, "explained": row.customer_explained, "unknown": row.unknown,
            "precision": round(row.precision, 4) if row.precision_known else None,
            "legacy_unverified": _legacy(row.legacy_unverified),
        }
        for row in response.sources
    ]


def _fixed_width(columns: tuple[str, ...], cells: list[list[str]]) -> str:
    lines = [list(columns), *cells]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) if index == 0 else cell.rjust(width)
                               for index, (cell, width) in enumerate(zip(line, widths, strict=True)))
                     for line in lines)


def format_table(table: list[dict[str, object]]) -> str:
    """A fixed-width text table of verified outcomes (precision '-' while unknown); below it, only if any source
    has some, a second table of the legacy (unverified) outcomes."""
    text = _fixed_width(COLUMNS, [
        ["-" if row[column] is None else f"{row[column]:.3f}" if column == "precision" else str(row[column])
         for column in COLUMNS]
        for row in table
    ])
    legacy = [[str(row["source"]), *(str(counts[column]) for column in LEGACY_COLUMNS[1:])]
              for row in table if isinstance(counts := row["legacy_unverified"], dict)]
    if legacy:
        text += f"\n\n{LEGACY_TITLE}\n" + _fixed_width(LEGACY_COLUMNS, legacy)
    return text


def _run(args: argparse.Namespace) -> int:
    """Call GetQuality and print the table (exit 0), or say why it failed (exit 1)."""
    problem = client_tls_problem(args)
    if problem:
        raise UsageError(problem)
    try:
        with open_channel(args.admin, load_client_tls(args)) as channel:
            response = pb_grpc.AdminStub(channel).GetQuality(pb.GetQualityRequest(), timeout=args.timeout)
    except grpc.RpcError as error:
        print(f"risklist-admin quality: error: {args.admin} answered {error.code().name}: {error.details()}",
              file=sys.stderr)
        return 1
    table = rows(response)
    print(json.dumps(table, indent=2) if args.format == "json" else format_table(table))
    return 0


COMMAND = Command(
    name="quality",
    help="per-source precision and volume (Admin.GetQuality)",
    description="Print each source's verified outcome counts, precision = confirmed / (confirmed + false "
    "positive), and live contributions, from the server's Admin.GetQuality call (it scans the whole store); "
    "outcomes recorded before outcomes were verified follow in a table of their own.",
    add_arguments=_arguments,
    run=_run,
)

