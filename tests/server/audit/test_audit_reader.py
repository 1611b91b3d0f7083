"""Reading several audit directories (a cluster's nodes'): every record, each with the directory it came from."""

from __future__ import annotations

from pathlib import Path

from risklist_server.audit.reader import SegmentProblem, read_directories
from risklist_server.audit.trail import AuditTrail

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
