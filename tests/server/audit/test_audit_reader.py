"""Reading audit directories: every record, each with the directory it came from; none torn by a full disk."""

from __future__ import annotations

import os
from pathlib import Path

from risklist_server.audit.reader import SegmentProblem, read_directories
from risklist_server.audit.trail import AuditTrail
from tests.support.small_disk import small_disk

KEY = bytes([3]) + bytes(range(16))
T0 = 1_760_000_000 * 10**9


def test_records_of_several_directories_come_with_their_directory(tmp_path: Path) -> None:
    """Each record read from several directories names the one whose segment holds it."""
    for name, count in (("node-a", 2), ("node-b", 3)):
        trail = AuditTrail(str(tmp_path / name), "writer")
        for number in range(count):
            trail.append(T0 + number, "bank-a", "Check", f"{name}-{number}", "OK", KEY, [])
        trail.close()
    problems: list[SegmentProblem] = []
    read = list(read_directories([str(tmp_path / "node-a"), str(tmp_path / "node-b")], problems.append))
    assert problems == []
    assert [(Path(directory).name, record.request_id) for directory, record in read] == [
        ("node-a", "node-a-0"), ("node-a", "node-a-1"), ("node-b", "node-b-0"), ("node-b", "node-b-1"),
        ("node-b", "node-b-2")]


def test_a_write_cut_short_by_a_full_disk_leaves_no_damage_in_the_segment(tmp_path: Path) -> None:
    """On a full disk a commit's records are lost (logged, the service answers on), but the bytes of it that fit
    are taken back: the segment holds no torn record, which a reader would report as a record changed or
    corrupted after it was written, and the records after the outage follow the ones before it."""
    keys = b"".join(bytes([3]) + number.to_bytes(16, "big") for number in range(1000))  # a 17 KB record
    with small_disk(tmp_path / "disk") as disk:
        trail = AuditTrail(str(disk.path / "audit"), "reader-1", commit_interval=3600)
        trail.append(T0, "bank-a", "BatchCheck", "before", "OK", keys, [])
        trail.flush()
        disk.fill()
        filler = disk.path / "filler"
        os.truncate(filler, filler.stat().st_size - 8192)  # room for part of the next record only
        trail.append(T0 + 1, "bank-a", "BatchCheck", "lost", "OK", keys, [])
        trail.flush()
        disk.free()
        trail.append(T0 + 2, "bank-a", "BatchCheck", "after", "OK", keys, [])
        trail.close()
        problems: list[SegmentProblem] = []
        read = [record.request_id for _, record in read_directories([str(disk.path / "audit")], problems.append)]
    assert problems == []
    assert read == ["before", "after"]
