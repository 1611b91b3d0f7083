"""This process's audit segments: each record written before the reply, fsynced by one thread.

Durability: `append` write()s the whole frame to the segment (the kernel's page cache) in
the calling RPC thread, so a record is in the file before its reply leaves; a process crash
(even SIGKILL) loses nothing answered. A background thread fdatasyncs every `sync_interval`
(group commit); a power loss or kernel crash loses at most the records of the last interval
plus one fdatasync. RPC threads never wait for a disk sync.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import structlog

from server.audit.record import SEGMENT_MAGIC, encode_frame
from server.core.errors import AuditError

log = structlog.get_logger("risklist.audit")

SEGMENT_SUFFIX = ".audit"
DEFAULT_SYNC_INTERVAL = 0.02
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


class AuditSink(Protocol):
    """Where an RPC's audit records go."""

    def append(
        self, time_ns: int, partner: str, method: str, request_id: str, status: str,
        keys: bytes, hits: Sequence[int],
    ) -> None: ...


class DiscardAudit:
    """A sink that keeps nothing (tests and benchmarks that measure the cost of auditing)."""

    def append(
        self, time_ns: int, partner: str, method: str, request_id: str, status: str,
        keys: bytes, hits: Sequence[int],
    ) -> None:
        return None


DISCARD = DiscardAudit()


def default_audit_dir(db: str) -> str:
    """The audit directory when --audit-dir is not given: beside the store, `<db>-audit`."""
    return os.path.normpath(db) + "-audit"


def prepare_audit_dir(directory: str) -> str:
    """Create `directory` if missing (mode 0750) and check it is writable; its absolute path."""
    path = os.path.abspath(directory)
    try:
        os.makedirs(path, mode=0o750, exist_ok=True)
    except OSError as error:
        raise AuditError(f"cannot create the audit directory {path}: {error.strerror}; "
                         "create it, or pass another --audit-dir") from None
    if not os.path.isdir(path):
        raise AuditError(f"the audit directory {path} is not a directory; pass another --audit-dir")
    if not os.access(path, os.W_OK | os.X_OK):
        raise AuditError(f"the audit directory {path} is not writable by this user; "
                         "fix its permissions, or pass another --audit-dir")
    return path


class AuditTrail:
    """Appends this process's records to `<start time>-<name>-<pid>.audit` in `directory`.

    A segment is closed and a new one started once it holds `segment_bytes`; old segments
    are never touched again (retention is the operator's: docs/operations.md).
    """

    def __init__(
        self, directory: str, name: str, *,
        sync_interval: float = DEFAULT_SYNC_INTERVAL, segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> None:
        self._directory = prepare_audit_dir(directory)
        self._name = name
        self._sync_interval = sync_interval
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._fd, self._path = self._open_segment()
        self._fsync_directory()
        self._size = len(SEGMENT_MAGIC)
        self._appended = 0
        self._synced = 0
        self._retired: list[int] = []
        self._directory_changed = False
        self._dropped = 0
        self._stop = threading.Event()
        self._syncer = threading.Thread(target=self._sync_loop, name="audit-sync", daemon=True)
        self._syncer.start()

    @property
    def path(self) -> str:
        """The segment being appended to."""
        return self._path

    def append(
        self, time_ns: int, partner: str, method: str, request_id: str, status: str,
        keys: bytes, hits: Sequence[int],
    ) -> None:
        """Write one record to the segment now (no disk sync); a write error is logged, not raised."""
        frame = encode_frame(time_ns, partner, method, request_id, status, keys, hits)
        with self._lock:
            if self._fd < 0:
                self._drop(frame, "the audit trail is closed")
                return
            try:
                _write_all(self._fd, frame)
            except OSError as error:
                self._drop(frame, error.strerror or str(error))
                return
            if self._dropped:
                log.warning("audit_write_recovered", path=self._path, dropped_records=self._dropped)
                self._dropped = 0
            self._appended += 1
            self._size += len(frame)
            if self._size >= self._segment_bytes:
                self._rotate()

    def close(self) -> None:
        """Sync and close the segment; later appends are dropped (and logged)."""
        self._stop.set()
        self._syncer.join()
        self._sync()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        log.info("audit_closed", path=self._path, records=self._appended)

    def _drop(self, frame: bytes, reason: str) -> None:
        # Fail open: the call was answered; losing its record is logged loudly, once per outage.
        if not self._dropped:
            log.error("audit_write_failed", path=self._path, error=reason, bytes=len(frame))
        self._dropped += 1

    def _open_segment(self) -> tuple[int, str]:
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = os.path.join(self._directory, f"{started}-{self._name}-{os.getpid()}{SEGMENT_SUFFIX}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o640)
            _write_all(fd, SEGMENT_MAGIC)
        except OSError as error:
            raise AuditError(f"cannot create the audit segment {path}: {error.strerror}") from None
        log.info("audit_segment_opened", path=path)
        return fd, path

    def _rotate(self) -> None:
        """Start a new segment (lock held); the sync thread syncs and closes the old one."""
        try:
            fd, path = self._open_segment()
        except AuditError as error:
            log.error("audit_rotate_failed", path=self._path, error=str(error))
            self._size = len(SEGMENT_MAGIC)  # retry after another segment's worth
            return
        self._retired.append(self._fd)
        self._fd, self._path, self._size = fd, path, len(SEGMENT_MAGIC)
        self._directory_changed = True

    def _sync_loop(self) -> None:
        while not self._stop.wait(self._sync_interval):
            self._sync()

    def _sync(self) -> None:
        """fdatasync what was appended since the last sync (the only thread that syncs or closes)."""
        with self._lock:
            fd, appended, retired, directory_changed = self._fd, self._appended, self._retired, self._directory_changed
            self._retired, self._directory_changed = [], False
        try:
            for old in retired:
                os.fdatasync(old)
                os.close(old)
            if directory_changed:
                self._fsync_directory()
            if fd >= 0 and appended != self._synced:
                os.fdatasync(fd)
                self._synced = appended
        except OSError as error:
            log.error("audit_sync_failed", path=self._path, error=error.strerror or str(error))

    def _fsync_directory(self) -> None:
        """Make a new segment's name durable."""
        fd = os.open(self._directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def now_ns() -> int:
    """The record time: nanoseconds since the Unix epoch."""
    return time.time_ns()
