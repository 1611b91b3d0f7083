"""`risklist-load`: the command line; errors become exit codes and messages here, at the edge."""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import structlog

from risklist_kernel.errors import RiskListError
from risklist_kernel.secret import SECRET_FILE_ENV, NetworkSecret, load_secret
from risklist_loader.bulk import BULK_MIN_ROWS
from risklist_loader.db_sink import DbSink
from risklist_loader.errors import FeedError, UsageError
from risklist_loader.pipeline import FeedFormat, LoadPlan, Validation, run_load
from risklist_loader.rejects import Reject, RejectLog
from risklist_loader.sink import Sink
from risklist_loader.summary import EXIT_FAILED, EXIT_USAGE
from risklist_loader.worker_pool import stop_worker_server
from risklist_server.cli.client_tls import (
    CLIENT_TLS_FLAGS,
    add_client_tls_arguments,
    client_tls_problem,
    load_client_tls,
)
from risklist_server.core.settings import load_settings
from risklist_server.core.source import SOURCE_ID_RULE, is_valid_source_id
from risklist_server.process.logs import configure_logging, default_format
from risklist_server.services.ingest import LoadMode

PROG = "risklist-load"
DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 100_000
DEFAULT_MAX_REJECT_RATIO = 0.05
EXIT_INTERRUPTED = 130

_EXTENSIONS: dict[str, FeedFormat] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Validate a partner feed (CSV or JSON Lines, docs/feeds.md) and apply it to "
        "a store (--db) or through a running server's admin ingest call (--server). Exit codes: "
        "0 applied, 3 applied with rejected rows, 1 nothing applied or failed, 2 usage.",
    )
    parser.add_argument("feed", metavar="FEED", type=Path,
                        help="the feed file (.csv, .jsonl, .ndjson)")
    parser.add_argument("--source", required=True, metavar="BANK_ID",
                        help=f"the contributing bank's source id ({SOURCE_ID_RULE})")
    parser.add_argument("--mode", choices=[mode.value for mode in LoadMode], default="delta",
                        help="delta: apply adds and removes; snapshot: the source's contributions "
                        "become exactly the feed's (default %(default)s)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--db", metavar="PATH", type=Path,
                        help="write straight into this store (no server may hold it; created, 0700, if missing)")
    target.add_argument("--server", metavar="ADDR",
                        help="stream to a running server's admin address (its --admin-listen)")
    parser.add_argument("--secret-file", metavar="FILE",
                        help=f"network secret, hex (default: ${SECRET_FILE_ENV})")
    add_client_tls_arguments(parser, used_with=" to the --server admin address (a partner certificate with "
                             "the admin role)")
    parser.add_argument("--config", metavar="FILE",
                        help="settings TOML (retention, default region)")
    parser.add_argument("--format", choices=["csv", "jsonl"], dest="feed_format",
                        help="feed format (default: from the extension)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                        help="mutations per atomic batch (default %(default)s)")
    parser.add_argument("--rejects", metavar="FILE", type=Path,
                        help="write every rejected row here as CSV line,field,reason")
    parser.add_argument("--max-reject-ratio", type=float, default=DEFAULT_MAX_REJECT_RATIO,
                        metavar="R", help="apply nothing if more than this share of rows is "
                        "rejected, 0-1 (default %(default)s)")
    parser.add_argument("--allow-empty-snapshot", action="store_true",
                        help="let a snapshot without add rows remove all of the source's "
                        "contributions")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and report, apply nothing (--db/--server and the secret "
                        "become optional)")
    parser.add_argument("--bulk-min-rows", type=int, default=BULK_MIN_ROWS, metavar="N",
                        help="with --db, a feed of at least N accepted rows into an empty store is "
                        "written as SST files and ingested at once (default %(default)s; 0: always)")
    parser.add_argument("--tmp-dir", metavar="DIR", type=Path,
                        help="where the scratch spool goes (default: $TMPDIR)")
    parser.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="how long --server may take to answer (default %(default)s)")
    parser.add_argument("--accept-restored-store", action="store_true",
                        help="with --db, load into a store older than its own front file says it reached: "
                        "only after restoring an older copy on purpose (docs/operations.md)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--log-format", choices=["json", "console"],
                        help="default: console on a terminal, JSON lines otherwise")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # the store and its scratch files hold members' data: owner only (RocksDB uses the umask)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        plan = _plan(args)
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(args.log_format)
    try:
        return _run(args, plan, log_format=args.log_format or default_format())
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; re-run the same command to complete the load "
              "(re-running is safe)", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        stop_worker_server()


def _plan(args: argparse.Namespace) -> LoadPlan:
    """The checked plan; raise UsageError when the command line itself is wrong."""
    if not is_valid_source_id(args.source):
        raise UsageError(f"--source {args.source!r} is not a source id: {SOURCE_ID_RULE}")
    if args.db is None and args.server is None and not args.dry_run:
        raise UsageError("say where to load: --db PATH or --server ADDR")
    if args.server is not None:
        problem = client_tls_problem(args)
        if problem is not None:
            raise UsageError(f"--server: {problem}")
    elif args.insecure or any(getattr(args, flag[2:]) is not None for flag in CLIENT_TLS_FLAGS):
        raise UsageError("--ca, --cert, --key and --insecure go with --server only")
    if not 0.0 <= args.max_reject_ratio <= 1.0:
        raise UsageError("--max-reject-ratio must be between 0 and 1, e.g. 0.05")
    if not 1 <= args.batch_size <= MAX_BATCH_SIZE:
        raise UsageError(f"--batch-size must be from 1 to {MAX_BATCH_SIZE}")
    if args.bulk_min_rows < 0:
        raise UsageError("--bulk-min-rows must be 0 or more")
    if args.connect_timeout <= 0:
        raise UsageError("--connect-timeout must be positive")
    feed_format: FeedFormat | None = args.feed_format or _EXTENSIONS.get(args.feed.suffix.lower())
    if feed_format is None:
        raise UsageError(
            f"cannot tell the format of {args.feed} from its extension; name it .csv or .jsonl, "
            "or pass --format csv|jsonl"
        )
    show_progress = sys.stderr.isatty() and not args.quiet
    return LoadPlan(
        feed=args.feed,
        feed_format=feed_format,
        source=args.source,
        mode=LoadMode(args.mode),
        batch_size=args.batch_size,
        max_reject_ratio=args.max_reject_ratio,
        dry_run=args.dry_run,
        allow_empty_snapshot=args.allow_empty_snapshot,
        show_progress=show_progress,
        log_batches=not show_progress,
        bulk_min_rows=args.bulk_min_rows,
    )


def _run(args: argparse.Namespace, plan: LoadPlan, *, log_format: str) -> int:
    log = structlog.get_logger("risklist.loader")
    rejects: RejectLog | None = None
    sink: Sink | None = None
    failed = False  # one error line per run: closing after a failure only adds its error if it is the first
    try:
        if not plan.feed.is_file():
            problem = "does not exist" if not plan.feed.exists() else "is not a regular file"
            raise FeedError(f"the feed file {problem}; check the path")
        settings = load_settings(args.config)
        secret = _secret(args)
        rejects = RejectLog(args.rejects)
        sink = _sink(args, secret)
        log.info("load_started", feed=str(plan.feed), format=plan.feed_format, source=plan.source,
                 mode=plan.mode.value, target=sink.description if sink else None,
                 dry_run=plan.dry_run, secret_fingerprint=secret.fingerprint)
        validation = Validation(plan.source, secret, settings, int(time.time()))
        with tempfile.TemporaryDirectory(prefix=f"{PROG}-", dir=args.tmp_dir) as workdir:
            summary = run_load(plan, validation, sink, rejects, Path(workdir))
    except FeedError as error:
        where = f" line {error.line}" if error.line else ""
        if rejects is not None:
            rejects.note(Reject(error.line, error.field, str(error)))
        print(f"{PROG}: error: {plan.feed}{where}: {_sentence(str(error))} Nothing was applied.", file=sys.stderr)
        failed = True
        return EXIT_FAILED
    except (RiskListError, OSError) as error:
        print(f"{PROG}: error: {error}{_full_disk_hint(error, args)}", file=sys.stderr)
        failed = True
        return EXIT_FAILED
    except BrokenProcessPool:  # the workers' part ends before anything is applied
        print(f"{PROG}: error: a worker process of the load ended unexpectedly (killed, perhaps for lack of "
              f"memory: see the system log); nothing was applied; re-run the same command", file=sys.stderr)
        failed = True
        return EXIT_FAILED
    finally:
        try:
            if sink is not None:
                sink.close()
            if rejects is not None:
                rejects.close()
        except (RiskListError, OSError) as error:  # a full disk while saving the front
            if not failed:
                print(f"{PROG}: error: {error}", file=sys.stderr)
            return EXIT_FAILED  # a failed close decides the exit code
    print(summary.render(), flush=True)
    if log_format == "json":  # on a console the summary above says it all
        log.info("load_done", **summary.log_fields())
    if summary.refusal:
        print(f"{PROG}: error: nothing applied: {summary.refusal}", file=sys.stderr)
    return summary.exit_code


def _full_disk_hint(error: Exception, args: argparse.Namespace) -> str:
    """What to do when the scratch disk filled up (a worker's OSError names no file)."""
    if not isinstance(error, OSError) or error.errno != errno.ENOSPC:
        return ""
    scratch = args.tmp_dir or tempfile.gettempdir()
    return (f" (the scratch directory {scratch}: a load needs about 45 bytes a row there, plus its reference); "
            f"free space, or point --tmp-dir at a disk with room, and re-run the same command (re-running is safe)")


def _secret(args: argparse.Namespace) -> NetworkSecret:
    """The network secret; a dry run without one digests under a throwaway key."""
    if args.dry_run and args.secret_file is None and not os.environ.get(SECRET_FILE_ENV):
        return NetworkSecret(secrets.token_bytes(32))
    return load_secret(args.secret_file)


def _sink(args: argparse.Namespace, secret: NetworkSecret) -> Sink | None:
    if args.dry_run:
        return None
    if args.db is not None:
        return DbSink(args.db, secret.fingerprint, accept_restored=args.accept_restored_store)
    # grpc and the protocol are imported only for --server: a load into a store does without them (~30 ms).
    from risklist_loader.server_sink import ServerSink
    from risklist_server.cli.secret_match import secret_origin

    return ServerSink(args.server, secret.fingerprint, connect_timeout=args.connect_timeout,
                      tls=load_client_tls(args), secret_origin=secret_origin(args.secret_file))



def _sentence(message: str) -> str:
    """`message` ending as a sentence: a full stop added unless it already ends with one (or ? or !)."""
    return message if message.endswith((".", "?", "!")) else message + "."


if __name__ == "__main__":
    sys.exit(main())
