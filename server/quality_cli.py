"""`risklist-admin quality`: the per-source precision and volume table, from Admin.GetQuality."""

from __future__ import annotations

import argparse
import json
import sys

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

COLUMNS = ("source", "live", "confirmed", "false_pos", "explained", "unknown", "precision")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the `quality` subcommand; the caller adds the admin connection options."""
    parser = subparsers.add_parser(
        "quality", help="per-source precision and volume (Admin.GetQuality)",
        description="Print each source's outcome counts, precision = confirmed / (confirmed + false positive), "
                    "and live contributions, from the server's Admin.GetQuality call.")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (table)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the answer (120)")
    return parser


def rows(response: pb.GetQualityResponse) -> list[dict[str, object]]:
    """One dict per source, precision None while no confirmed/false-positive outcome exists."""
    return [
        {
            "source": row.source, "live": row.live_contributions, "confirmed": row.confirmed_fraud,
            "false_pos": row.false_positive, "explained": row.customer_explained, "unknown": row.unknown,
            "precision": round(row.precision, 4) if row.precision_known else None,
        }
        for row in response.sources
    ]


def format_table(table: list[dict[str, object]]) -> str:
    """A fixed-width text table; precision shown as '-' while unknown."""
    cells = [list(COLUMNS)] + [
        ["-" if row[column] is None else f"{row[column]:.3f}" if column == "precision" else str(row[column])
         for column in COLUMNS]
        for row in table
    ]
    widths = [max(len(line[index]) for line in cells) for index in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) if index == 0 else cell.rjust(width)
                       for index, (cell, width) in enumerate(zip(line, widths, strict=True)))
             for line in cells]
    return "\n".join(lines)


def run(args: argparse.Namespace, channel: grpc.Channel) -> int:
    """Call GetQuality on `channel` and print the table (exit 0), or say why it failed (exit 1)."""
    try:
        response = pb_grpc.AdminStub(channel).GetQuality(pb.GetQualityRequest(), timeout=args.timeout)
    except grpc.RpcError as error:
        print(f"risklist-admin quality: the server refused or failed: {error.code().name}: {error.details()}",
              file=sys.stderr)
        return 1
    table = rows(response)
    print(json.dumps(table, indent=2) if args.format == "json" else format_table(table))
    return 0
