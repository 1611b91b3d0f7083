"""`risklist-watch`: watch a bank's customer file and append one JSON line per alert (docs/client.md).

Exit codes: 0 stopped (SIGTERM, SIGINT, or --once done); 1 failed (the state is another network's
or locked by another risklist-watch, the output cannot be written, the secret cannot be read);
2 usage (bad flags, or a customer file that cannot be read at all). A bad row of the customer
file is reported on stderr and skipped; the others are watched.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import grpc

from risklist_client.alerts import Alert
from risklist_client.client import DEFAULT_UPDATE_INTERVAL, RiskListClient
from risklist_client.customer_file import CustomerFileError, Rejected, stream_customers
from risklist_client.errors import InvalidTarget
from risklist_client.targets import parse_target
from risklist_client.watch_state import StateError
from risklist_client.watchlist import Watchlist
from risklist_kernel.errors import RiskListError
from risklist_kernel.pause_point import pause_point
from risklist_kernel.secret import load_secret

STATE_FILE = "watch.sqlite"
LOCK_FILE = "watch.lock"
SHOWN_REJECTS = 20
EXEC_TIMEOUT = 60.0

log = logging.getLogger("risklist_client.watch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="risklist-watch",
        description="Watch a customer file against a risklist network; append one JSON line per alert "
                    "(LISTED, CHANGED, CLEARED). Only digests of matching customers ever reach the server.")
    parser.add_argument("--customers", required=True, metavar="FILE", type=Path,
                        help="CSV (header entity_type,identifier[,reference]) or .jsonl with those keys; "
                             "re-read when it changes")
    parser.add_argument("--state", required=True, metavar="DIR", type=Path,
                        help="directory for the watchlist's state (created; one risklist-watch per directory)")
    parser.add_argument("--out", required=True, metavar="FILE", type=Path, help="alerts, appended as JSON lines")
    parser.add_argument("--exec", dest="command", metavar="CMD",
                        help="run CMD for each alert (no shell), the alert's JSON on its standard input and "
                             "RISKLIST_ALERT_ID/RISKLIST_ALERT_KIND set; a failure is retried")
    parser.add_argument("--server", default="127.0.0.1:50051", metavar="HOST:PORT",
                        help="server address (default %(default)s); a cluster's nodes as IP:PORT,IP:PORT,... or "
                             "dns:///NAME:PORT fail over to the nodes that serve")
    parser.add_argument("--secret-file", metavar="FILE", help="network secret (default: $RISKLIST_SECRET_FILE)")
    parser.add_argument("--region", default="CN", help="default region for phones and ID numbers (default CN)")
    parser.add_argument("--update-interval", type=float, default=DEFAULT_UPDATE_INTERVAL, metavar="SECONDS",
                        help="filter update interval (default %(default)s)")
    parser.add_argument("--poll", type=float, default=2.0, metavar="SECONDS",
                        help="how often to look whether the customer file changed (default %(default)s)")
    parser.add_argument("--once", action="store_true",
                        help="screen, deliver what is due, and exit 0 (for a scheduler) instead of running on")
    group = parser.add_argument_group("authentication", "mutual TLS: all of --ca, --cert and --key; or --insecure")
    group.add_argument("--ca", metavar="FILE", help="CA certificate the server's certificate chains to (PEM)")
    group.add_argument("--cert", metavar="FILE", help="this bank's client certificate (PEM)")
    group.add_argument("--key", metavar="FILE", help="this bank's private key (PEM)")
    group.add_argument("--insecure", action="store_true", help="plaintext, for a server run with --insecure-dev")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = _tls_problem(args)
    if problem is not None:
        parser.error(problem)
    if args.update_interval <= 0 or args.poll <= 0:
        parser.error("--update-interval and --poll must be positive")
    try:
        parse_target(args.server)
    except InvalidTarget as error:
        parser.error(f"--server: {error}")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        secret = load_secret(args.secret_file)
        credentials = _credentials(args)
    except (OSError, RiskListError) as error:
        print(f"risklist-watch: error: {error}", file=sys.stderr)
        return 1
    try:
        args.state.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = (args.state / LOCK_FILE).open("w")
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"risklist-watch: error: another risklist-watch uses --state {args.state}; stop it first, or give "
              "this one a directory of its own", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"risklist-watch: error: --state {args.state}: {error.strerror}", file=sys.stderr)
        return 1
    client = RiskListClient(args.server, credentials, secret=secret, update_interval=args.update_interval,
                            default_region=args.region, deadline=5.0)
    try:
        return _watch(args, client)
    except CustomerFileError as error:
        print(f"risklist-watch: error: {error}", file=sys.stderr)
        return 2
    except (StateError, OSError) as error:
        print(f"risklist-watch: error: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
        lock.close()


def _watch(args: argparse.Namespace, client: RiskListClient) -> int:
    if not args.customers.is_file():
        raise CustomerFileError(f"--customers {args.customers}: cannot open it (no such file); check the path")
    sink = AlertSink(args.out, args.command)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with sink, Watchlist(client, args.state / STATE_FILE, on_alert=sink) as watch:
        seen = _stamp(args.customers)
        _apply(args.customers, client, watch, "watch_started")
        while not stop.is_set():
            if args.once and watch.idle():
                break
            stop.wait(min(args.poll, 0.1) if args.once else args.poll)
            stamp = _stamp(args.customers)
            if stamp != seen and stamp is not None:
                seen = stamp
                try:
                    _apply(args.customers, client, watch, "customer_file_reread")
                except CustomerFileError as error:  # mid-rewrite or broken: keep watching what we have
                    log.warning("customer_file_unusable error=%s", error)
    return 0


def _apply(path: Path, client: RiskListClient, watch: Watchlist, event: str) -> None:
    """Watch exactly the file's good rows (streamed into the state in one transaction: a file that turns out
    unreadable half-way changes nothing); report the rows skipped."""
    rejected: list[Rejected] = []
    added, removed = watch.replace_keys(stream_customers(path, client.storage_key, rejected))
    for row in rejected[:SHOWN_REJECTS]:
        print(f"risklist-watch: {path}: {row} (row skipped; fix it and save the file to watch it)", file=sys.stderr)
    if len(rejected) > SHOWN_REJECTS:
        print(f"risklist-watch: {path}: {len(rejected) - SHOWN_REJECTS} more rows skipped", file=sys.stderr)
    log.info("%s watched=%d added=%d removed=%d rejected=%d", event, len(watch), added, removed, len(rejected))


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


class AlertSink:
    """Appends each alert to the output file (flushed and fsynced), then runs the --exec command.

    Alerts are offered in increasing alert_id; one the file already ends with (the process died
    after writing it and before the state marked it delivered) is not written again.
    """

    def __init__(self, path: Path, command: str | None) -> None:
        self._path = path
        self._command = shlex.split(command) if command else None
        try:
            self._written = _last_alert_id(path)
            self._file: IO[str] = path.open("a", encoding="utf-8")
        except OSError as error:
            raise OSError(f"--out {path}: cannot append to it ({error.strerror}); create its directory, or give "
                          "a path this user may write") from None

    def __enter__(self) -> AlertSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()

    def __call__(self, alert: Alert) -> None:
        document = alert.to_dict()
        if alert.alert_id > self._written:
            self._file.write(json.dumps(document, separators=(",", ":")) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._written = alert.alert_id
            pause_point("watch-alert-written")
        if self._command is not None:
            environment = {**os.environ, "RISKLIST_ALERT_ID": str(alert.alert_id),
                           "RISKLIST_ALERT_KIND": alert.kind.value}
            completed = subprocess.run(self._command, input=json.dumps(document), text=True, env=environment,
                                       timeout=EXEC_TIMEOUT, check=False, stdout=subprocess.DEVNULL)
            if completed.returncode != 0:
                raise RuntimeError(f"--exec exited {completed.returncode} for alert {alert.alert_id}")


def _last_alert_id(path: Path) -> int:
    """The alert_id of the output file's last complete line (0 for none); a torn last line is cut off."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            tail = handle.read()
    except FileNotFoundError:
        return 0
    lines = tail.split(b"\n")
    if lines and lines[-1]:  # written partly when the process died: drop it, the alert is written again
        with path.open("r+b") as handle:
            handle.truncate(size - len(lines[-1]))
    for line in reversed(lines[:-1]):
        try:
            return int(json.loads(line)["alert_id"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


def _tls_problem(args: argparse.Namespace) -> str | None:
    given = [flag for flag in ("--ca", "--cert", "--key") if getattr(args, flag[2:]) is not None]
    if args.insecure:
        return f"--insecure excludes {', '.join(given)}" if given else None
    if not given:
        return ("say how to authenticate: --ca FILE --cert FILE --key FILE (the files the network operator "
                "issued you), or --insecure for a server run with --insecure-dev")
    missing = [flag for flag in ("--ca", "--cert", "--key") if flag not in given]
    return f"mutual TLS needs all of --ca, --cert and --key; missing {', '.join(missing)}" if missing else None


def _credentials(args: argparse.Namespace) -> grpc.ChannelCredentials | None:
    if args.insecure:
        return None
    files = {}
    for flag in ("ca", "cert", "key"):
        try:
            files[flag] = Path(getattr(args, flag)).read_bytes()
        except OSError as error:
            raise OSError(f"--{flag} {getattr(args, flag)}: cannot read it ({error.strerror})") from None
    return grpc.ssl_channel_credentials(root_certificates=files["ca"], private_key=files["key"],
                                        certificate_chain=files["cert"])
