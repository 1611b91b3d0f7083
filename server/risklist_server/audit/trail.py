"""This process's audit segments: RPC threads encode and buffer, one thread writes and fsyncs.

Group commit: every `commit_interval` (10 ms) the committer thread writes everything
buffered with one writev and fdatasyncs it. RPC threads never wait for the disk, unless
`max_buffered` bytes are waiting (a stalled disk): then they wait rather than grow memory or
drop records. What a crash loses: records appended in the last commit interval plus the
duration of one write and fdatasync (typically ≤ 10–20 ms of records), the same for a
process crash (SIGKILL) and a power loss. A graceful stop loses nothing: `close` commits all.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import structlog

from risklist_server.audit.record import SEGMENT_MAGIC, encode_frame
from risklist_server.core.errors import AuditError

log = structlog.get_logger("risklist.audit")

SEGMENT_SUFFIX = ".audit"
DEFAULT_COMMIT_INTERVAL = 0.01
DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024
IOV_MAX = 1024
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


class AuditSink(Protocol):
    """Where an RPC's audit records go."""

    def append(
        self, time_ns: int, partner: str, method: str, request_id: str, status: str,
        keys: bytes, hits: Sequence[int], *,
        source: str = "", unrecorded: int = 0, at_least: bool = False, received: bool = True,
    ) -> None:
        """One record (fields as AuditRecord's; `at_least` is its unrecorded_at_least)."""
        ...


class DiscardAudit:
    """A sink that keeps nothing (tests and benchmarks that measure the cost of auditing)."""

    def append(
        self, time_ns: int, partner: str, method: str, request_id: str, status: str,
        keys: bytes, hits: Sequence[int], *,
        source: str = "", unrecorded: int = 0, at_least: bool = False, received: bool = True,
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
        commit_interval: float = DEFAULT_COMMIT_INTERVAL, segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> None:
        self._directory = prepare_audit_dir(directory)
        self._name = name
        self._commit_interval = commit_interval
        self._segment_bytes = segment_bytes
        self._max_buffered = max_buffered
        self._fd, self._path = self._open_segment()
        self._fsync_directory()
        self._size = len(SEGMENT_MAGIC)
        self._records = 0
        self._dropped = 0
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._closed = False
        self._drained = threading.Condition()  # guards the buffer; RPC threads hold it only to append
        self._committing = threading.Lock()  # one commit at a time: records stay in order
        self._stop = threading.Event()
        self._committer = threading.Thread(target=self._commit_loop, name="audit-commit", daemon=True)
        self._committer.start()

    @property
    def path(self) -> str:
        """The segment being appended to."""
        return self._path

    def append(
        self, time_ns: int, partner: str, method: str, request_id: str, status: str,
        keys: bytes, hits: Sequence[int], *,
        source: str = "", unrecorded: int = 0, at_least: bool = False, received: bool = True,
    ) -> None:
        """Buffer one record for the next commit; waits only while `max_buffered` bytes are pending."""
        frame = encode_frame(time_ns, partner, method, request_id, status, keys, hits, source=source,
                             unrecorded=unrecorded, at_least=at_least, received=received)
        with self._drained:
            if self._closed:
                self._drop(1, "the audit trail is closed")
                return
            while self._buffered >= self._max_buffered and not self._closed:
                self._drained.wait()
            self._buffer.append(frame)
            self._buffered += len(frame)

    def flush(self) -> None:
        """Commit everything appended so far (written and fdatasynced) before returning."""
        self._commit()

    def close(self) -> None:
        """Commit what is buffered and close the segment; later appends are dropped (and logged)."""
        self._stop.set()
        self._committer.join()
        with self._committing:
            with self._drained:
                self._closed = True
            self._commit_locked()
            os.close(self._fd)
        log.info("audit_closed", path=self._path, records=self._records)

    def _commit_loop(self) -> None:
        while not self._stop.wait(self._commit_interval):
            self._commit()

    def _commit(self) -> None:
        with self._committing:
            self._commit_locked()

    def _commit_locked(self) -> None:
        """Write and fdatasync the buffer, then rotate if the segment is full (`_committing` held)."""
        with self._drained:
            frames, self._buffer = self._buffer, []
            self._buffered = 0
            self._drained.notify_all()
        if not frames:
            return
        try:
            for start in range(0, len(frames), IOV_MAX):
                _write_all(self._fd, frames[start : start + IOV_MAX])
            os.fdatasync(self._fd)
        except OSError as error:
            self._take_back_partial_write()
            self._drop(len(frames), error.strerror or str(error))
            return
        if self._dropped:
            log.warning("audit_write_recovered", path=self._path, dropped_records=self._dropped)
            self._dropped = 0
        self._records += len(frames)
        self._size += sum(map(len, frames))
        if self._size >= self._segment_bytes:
            self._rotate()

    def _take_back_partial_write(self) -> None:
        """Cut the segment back to its last whole record: a write the disk cut short (ENOSPC) leaves part of a frame
        that readers would report as a record damaged after it was written, not as records lost to a full disk."""
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as error:  # the torn frame stays; readers skip it to the next intact record
            log.error("audit_truncate_failed", path=self._path, error=error.strerror or str(error))

    def _drop(self, records: int, reason: str) -> None:
        # Fail open: the calls were answered; losing their records is logged loudly, once per outage.
        if not self._dropped:
            log.error("audit_write_failed", path=self._path, error=reason, records=records)
        self._dropped += records

    def _open_segment(self) -> tuple[int, str]:
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = os.path.join(self._directory, f"{started}-{self._name}-{os.getpid()}{SEGMENT_SUFFIX}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o640)
            _write_all(fd, [SEGMENT_MAGIC])
        except OSError as error:
            raise AuditError(f"cannot create the audit segment {path}: {error.strerror}") from None
        log.info("audit_segment_opened", path=path)
        return fd, path

    def _rotate(self) -> None:
        try:
            fd, path = self._open_segment()
            self._fsync_directory()
        except (AuditError, OSError) as error:
            log.error("audit_rotate_failed", path=self._path, error=str(error))
            self._size = len(SEGMENT_MAGIC)  # keep appending here; retry after another segment's worth
            return
        os.close(self._fd)  # fdatasynced by the commit that filled it
        self._fd, self._path, self._size = fd, path, len(SEGMENT_MAGIC)

    def _fsync_directory(self) -> None:
        """Make a new segment's name durable."""
        fd = os.open(self._directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(fd: int, frames: list[bytes]) -> None:
    """Write every byte of `frames` (one writev, more only if the kernel writes less)."""
    written = os.writev(fd, frames)
    total = sum(map(len, frames))
    if written < total:
        rest = memoryview(b"".join(frames))[written:]
        while rest:
            rest = rest[os.write(fd, rest):]
