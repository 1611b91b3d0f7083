"""`risklist-admin audit`: who searched for a subject (or what a partner did), when, with what result; over one
audit directory or several (a cluster's nodes'), merged in time order."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import TextIO

from risklist_server.audit.query import BadQuery, Query, parse_subject_key, subject_result
from risklist_server.audit.reader import SegmentProblem, read_directories, segment_paths
from risklist_server.audit.record import AuditRecord
from risklist_server.cli.admin_command import Command
from risklist_server.core.errors import AuditError

PROG = "risklist-admin audit"
EPILOG = """examples:
  risklist-admin audit --dir /var/lib/risklist/db-audit --digest 03a1b2...(34 hex digits)
  risklist-admin audit --dir DIR --digest 9f86d081884c7d659a2feaa0c55ad015 --type phone --since 2025-01-01
  risklist-admin audit --dir DIR --partner bank-a --since 2025-03-01T09:00 --until 2025-03-01T10:00 --format jsonl
  risklist-admin audit --dir /audit/site-a-1 --dir /audit/site-b-1 --partner bank-a   (a cluster's nodes, merged)
Times are ISO 8601, UTC unless they carry an offset; --since is inclusive, --until exclusive."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The audit command's options (shared by `register` and the standalone `main`)."""
    parser.add_argument("--dir", required=True, action="append", metavar="DIR", dest="dirs",
                        help="the server's audit directory (--audit-dir); repeat it for several nodes' directories, "
                        "whose records are merged in time order, each labelled with its directory")
    parser.add_argument("--digest", metavar="HEX",
                        help="the subject: 32 hex digits (its digest, with --type) or 34 (its storage key)")
    parser.add_argument("--type", metavar="TYPE", help="entity type of a 32-digit --digest, e.g. phone")
    parser.add_argument("--partner", metavar="ID", help="only calls by this partner")
    parser.add_argument("--since", metavar="TIME", help="only records at or after TIME")
    parser.add_argument("--until", metavar="TIME", help="only records before TIME")
    parser.add_argument("--format", choices=["table", "jsonl"], default="table", help="default %(default)s")


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print the matching records; 0 done (damage is warned about), 1 failed, 2 bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        query = _query(args)
    except BadQuery as error:
        print(f"{PROG}: error: {error}", file=err)
        return 2
    directories = [os.path.normpath(directory) for directory in args.dirs]
    problem = _directories_problem(directories)
    if problem is not None:
        print(f"{PROG}: error: {problem}", file=err)
        return 2

    def warn(problem: SegmentProblem) -> None:
        print(f"{PROG}: warning: {problem.path} at byte {problem.offset}: {problem.message}", file=err)

    try:
        empty = [directory for directory in directories if not segment_paths(directory)]
        found = [(directory, record) for directory, record in read_directories(directories, warn)
                 if query.matches(record)]
    except AuditError as error:
        print(f"{PROG}: error: {error}", file=err)
        return 1
    found.sort(key=lambda labelled: labelled[1].time_ns)  # stable: at one time, in the order of the --dir flags
    for directory in empty:
        print(f"{PROG}: note: no audit segments (*.audit) in {directory}", file=err)
    if args.format == "jsonl":
        for directory, record in found:
            out.write(json.dumps(_json(record, query.key, directory)) + "\n")
    else:
        _table(found, query.key, out, labelled=len(directories) > 1)
    return 0


def _directories_problem(directories: list[str]) -> str | None:
    """Why the --dir flags cannot be read (naming the one at fault), or None."""
    seen: dict[str, str] = {}
    for directory in directories:
        if not os.path.isdir(directory):
            return (f"--dir {directory} is not a directory; pass the server's --audit-dir "
                    "(default: the store path followed by -audit)")
        real = os.path.realpath(directory)
        if real in seen:
            return f"--dir {seen[real]} and --dir {directory} are the same directory: give each one once"
        seen[real] = directory
    return None


def _query(args: argparse.Namespace) -> Query:
    if args.digest is None and args.partner is None:
        raise BadQuery("say what to look for: --digest HEX (with --type for a 32-digit digest) and/or --partner ID")
    if args.type is not None and args.digest is None:
        raise BadQuery("--type goes with --digest")
    key = parse_subject_key(args.digest, args.type) if args.digest is not None else None
    since, until = _time(args.since, "--since"), _time(args.until, "--until")
    if since is not None and until is not None and since >= until:
        raise BadQuery(f"--since {args.since} is not before --until {args.until}")
    return Query(key=key, partner=args.partner, since_ns=since, until_ns=until)


def _time(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadQuery(f"{option} {text!r} is not an ISO 8601 time, e.g. 2025-03-01 or 2025-03-01T09:30:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _iso(time_ns: int) -> str:
    moment = datetime.fromtimestamp(time_ns // 1_000_000_000, UTC).replace(microsecond=time_ns // 1000 % 1_000_000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(record: AuditRecord, key: bytes | None, directory: str) -> dict[str, object]:
    keys = record.key_list()
    entry: dict[str, object] = {
        "time": _iso(record.time_ns), "time_ns": record.time_ns, "dir": directory, "partner": record.partner,
        "method": record.method, "request_id": record.request_id, "status": record.status,
        "subjects": len(keys), "hits": len(record.hits), "source": record.source,
        "unrecorded": record.unrecorded, "unrecorded_at_least": record.unrecorded_at_least,
        "received": record.received,
    }
    if key is not None:
        entry["result"] = subject_result(record, key)
    else:
        entry["keys"] = [k.hex() for k in keys]
        entry["hit_keys"] = [keys[index].hex() for index in record.hits if index < len(keys)]
    return entry


def note(record: AuditRecord) -> str:
    """What the table's NOTE column says of a record: subjects it carried but does not hold, its source."""
    notes = []
    if not record.received:
        notes.append("request not received")
    if record.unrecorded:
        notes.append(f"refused {'at least ' if record.unrecorded_at_least else ''}{record.unrecorded} "
                     f"subject{'s' if record.unrecorded != 1 else ''}, not recorded")
    if record.source:
        notes.append(f"source {record.source}")
    return "; ".join(notes)


def _table(found: list[tuple[str, AuditRecord]], key: bytes | None, out: TextIO, *, labelled: bool) -> None:
    """One line per record; a DIR column when they come from several directories (`labelled`)."""
    header = ["TIME (UTC)", *(["DIR"] if labelled else []), "PARTNER", "METHOD", "REQUEST ID", "STATUS", "SUBJECTS",
              "HITS"]
    if key is not None:
        header.append("RESULT")
    notes = [note(record) for _, record in found]
    if any(notes):  # the column only when some record has something to say
        header.append("NOTE")
    rows = []
    for (directory, record), record_note in zip(found, notes, strict=True):
        row = [_iso(record.time_ns), *([directory] if labelled else []), record.partner, record.method,
               record.request_id, record.status, str(record.key_count), str(len(record.hits))]
        if key is not None:
            row.append(subject_result(record, key))
        if header[-1] == "NOTE":
            row.append(record_note)
        rows.append(row)
    widths = [max([len(header[column])] + [len(row[column]) for row in rows]) for column in range(len(header))]
    for row in [header, *rows]:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")


COMMAND = Command(
    name="audit",
    help="who searched for a subject, or what a partner did, and when",
    description=(__doc__ or "") + "\n\n" + EPILOG,
    add_arguments=add_arguments,
    run=run,
)

