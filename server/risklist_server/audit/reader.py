"""Reading audit segments: every intact record of a directory (or of several: each node's), damage reported and
skipped."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from risklist_server.audit.record import SEGMENT_MAGIC, AuditRecord, Damage, iter_frames
from risklist_server.audit.trail import SEGMENT_SUFFIX
from risklist_server.core.errors import AuditError


@dataclass(frozen=True, slots=True)
class SegmentProblem:
    """Something unreadable in a segment file: which file, where, and what it means."""

    path: str
    offset: int
    message: str


OnProblem = Callable[[SegmentProblem], None]


def segment_paths(directory: str) -> list[str]:
    """The segment files of an audit directory, oldest first (names start with the start time)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        raise AuditError(f"no audit directory {directory}; pass the server's --audit-dir") from None
    except NotADirectoryError:
        raise AuditError(f"{directory} is not a directory; pass the server's --audit-dir") from None
    except PermissionError:
        raise AuditError(f"cannot read the audit directory {directory}: permission denied") from None
    return [os.path.join(directory, name) for name in sorted(names) if name.endswith(SEGMENT_SUFFIX)]


def read_segment(path: str, on_problem: OnProblem) -> Iterator[AuditRecord]:
    """The intact records of one segment file in order; each unreadable stretch goes to `on_problem`."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        on_problem(SegmentProblem(path, 0, f"cannot read the segment: {error.strerror}; skipped"))
        return
    if not data.startswith(SEGMENT_MAGIC):
        if len(data) < len(SEGMENT_MAGIC) and SEGMENT_MAGIC.startswith(data):
            return  # created, header cut short by a crash: holds no records
        on_problem(SegmentProblem(path, 0, "not an audit segment (unknown header); skipped"))
        return
    for item in iter_frames(data, len(SEGMENT_MAGIC)):
        if isinstance(item, Damage):
            on_problem(SegmentProblem(path, item.offset, _describe(item)))
        else:
            yield item[1]


def _describe(damage: Damage) -> str:
    if damage.torn_tail:
        return (f"unreadable tail of {damage.size} bytes ({damage.reason}): a write cut short by a crash "
                "or power loss; the records before it are intact")
    return (f"damaged record ({damage.reason}), {damage.size} bytes skipped to the next intact record; "
            "the file was changed or corrupted after it was written")


def read_directory(directory: str, on_problem: OnProblem) -> Iterator[AuditRecord]:
    """Every intact record of every segment in `directory`, segment by segment."""
    for path in segment_paths(directory):
        yield from read_segment(path, on_problem)


def read_directories(directories: Sequence[str], on_problem: OnProblem) -> Iterator[tuple[str, AuditRecord]]:
    """Every intact record of each of `directories` (several nodes' trails), with the directory it came from;
    directory by directory, each as read_directory reads it."""
    for directory in directories:
        for record in read_directory(directory, on_problem):
            yield directory, record
