"""The audit trail's files and `risklist-admin audit` over them: queries, rotation, damage, bad input."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from risklist_server.audit.reader import segment_paths
from risklist_server.audit.record import SEGMENT_MAGIC, AuditRecord
from risklist_server.audit.trail import AuditTrail
from tests.support.audit_cli import AUDIT_COMMAND, audit_jsonl, run_audit
from tests.support.audit_format import format_1_frame
from tests.support.waiting import wait_until

PHONE_KEY = bytes([3]) + bytes(range(16))
CARD_KEY = bytes([2]) + bytes(range(100, 116))
T0 = 1_760_000_000 * 10**9  # 2025-10-09T08:53:20Z


def _trail(directory: Path) -> None:
    trail = AuditTrail(str(directory), "writer")
    trail.append(T0, "bank-a", "Check", "a" * 24, "OK", PHONE_KEY, [0])
    trail.append(T0 + 10**9, "bank-b", "BatchCheck", "b" * 24, "OK", CARD_KEY + PHONE_KEY, [])
    trail.append(T0 + 2 * 10**9, "bank-b", "BatchCheck", "c" * 24, "INVALID_ARGUMENT", b"", [])
    trail.append(T0 + 3 * 10**9, "bank-c", "Ingest", "d" * 24, "OK", PHONE_KEY, [])
    trail.close()


def test_who_searched_for_a_subject(tmp_path: Path) -> None:
    """A storage key finds every call that named the subject, in time order, with hit or miss for it."""
    _trail(tmp_path)
    found = audit_jsonl(tmp_path, "--digest", PHONE_KEY.hex())
    assert [(r["partner"], r["method"], r["request_id"], r["result"]) for r in found] == [
        ("bank-a", "Check", "a" * 24, "hit"), ("bank-b", "BatchCheck", "b" * 24, "miss"),
        ("bank-c", "Ingest", "d" * 24, "ok")]
    assert found[0]["time"] == "2025-10-09T08:53:20.000Z"


def test_digest_with_type_equals_storage_key(tmp_path: Path) -> None:
    """32 hex digits with --type select the same records as the 34-digit storage key."""
    _trail(tmp_path)
    assert audit_jsonl(tmp_path, "--digest", CARD_KEY[1:].hex(), "--type", "card") == \
        audit_jsonl(tmp_path, "--digest", CARD_KEY.hex())


def test_partner_and_time_window(tmp_path: Path) -> None:
    """--partner lists that partner's calls with their subjects; --since is inclusive, --until exclusive."""
    _trail(tmp_path)
    found = audit_jsonl(tmp_path, "--partner", "bank-b", "--since", "2025-10-09T08:53:21Z",
                        "--until", "2025-10-09T08:53:22Z")
    assert [(r["request_id"], r["keys"]) for r in found] == [("b" * 24, [CARD_KEY.hex(), PHONE_KEY.hex()])]


def test_table_output(tmp_path: Path) -> None:
    """The default table has a header and one line per record, with the subject's result."""
    _trail(tmp_path)
    done = run_audit(tmp_path, "--digest", PHONE_KEY.hex(), "--partner", "bank-a")
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split()[:3] == ["TIME", "(UTC)", "PARTNER"] and row.split()[-1] == "hit"
    assert "a" * 24 in row


def test_refused_and_unreceived_requests_and_sources_are_noted(tmp_path: Path) -> None:
    """The table says how many subjects a refused batch carried (none recorded), which request never arrived,
    and an ingest's source; jsonl gives the same as fields."""
    trail = AuditTrail(str(tmp_path), "reader-1")
    trail.append(T0, "bank-b", "BatchCheck", "a" * 24, "INVALID_ARGUMENT", b"", [], unrecorded=1_000_000)
    trail.append(T0 + 1, "bank-b", "StreamCheck", "b" * 24, "INVALID_ARGUMENT", b"", [], unrecorded=10_001,
                 at_least=True)
    trail.append(T0 + 2, "bank-b", "BatchCheck", "c" * 24, "CANCELLED", b"", [], received=False)
    trail.append(T0 + 3, "bank-b", "Ingest", "d" * 24, "OK", PHONE_KEY, [], source="bank-b")
    trail.append(T0 + 4, "bank-b", "Check", "e" * 24, "OK", PHONE_KEY, [0])
    trail.close()
    done = run_audit(tmp_path, "--partner", "bank-b")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[-1] == "NOTE"
    assert [row.split("  ")[-1].strip() for row in rows[:4]] == [
        "refused 1000000 subjects, not recorded", "refused at least 10001 subjects, not recorded",
        "request not received", "source bank-b"]
    assert rows[4].split()[-1] == "1"  # no note: the line ends with its hits
    found = audit_jsonl(tmp_path, "--partner", "bank-b")
    assert [(r["unrecorded"], r["unrecorded_at_least"], r["received"], r["source"]) for r in found] == [
        (1_000_000, False, True, ""), (10_001, True, True, ""), (0, False, False, ""), (0, False, True, "bank-b"),
        (0, False, True, "")]


def test_segments_of_format_1_are_read(tmp_path: Path) -> None:
    """A segment written before format 2 (no source, no unrecorded count) is still queried like a new one."""
    old = AuditRecord(T0, "bank-a", "Check", "f" * 24, "OK", PHONE_KEY, (0,))
    (tmp_path / "20250101T000000000000Z-writer-1.audit").write_bytes(SEGMENT_MAGIC + format_1_frame(old))
    [found] = audit_jsonl(tmp_path, "--digest", PHONE_KEY.hex())
    assert (found["request_id"], found["result"], found["source"], found["unrecorded"]) == ("f" * 24, "hit", "", 0)


@pytest.mark.parametrize(("args", "complaint"), [
    (["--digest", "zz" * 17], "not hexadecimal"),
    (["--digest", "00" * 16], "needs --type"),
    (["--digest", "00" * 16, "--type", "planet"], "unknown value"),
    (["--digest", "09" + "00" * 16], "not an entity type"),
    (["--digest", "03" + "00" * 16, "--type", "card"], "contradicts"),
    (["--digest", "00" * 5], "expected 32"),
    (["--partner", "x", "--since", "yesterday"], "ISO 8601"),
    (["--partner", "x", "--since", "2025-02-01", "--until", "2025-01-01"], "not before"),
    ([], "say what to look for"),
])
def test_bad_input_is_a_usage_error(tmp_path: Path, args: list[str], complaint: str) -> None:
    """Malformed options exit 2 with a message saying what was wrong, never a traceback."""
    done = run_audit(tmp_path, *args)
    assert done.returncode == 2 and complaint in done.stderr and "Traceback" not in done.stderr


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    """An audit directory that does not exist exits 2, naming it."""
    done = run_audit(tmp_path / "nowhere", "--partner", "bank-a")
    assert done.returncode == 2 and "nowhere" in done.stderr


def test_torn_tail_and_damage_are_warnings(tmp_path: Path) -> None:
    """A torn last record and a damaged middle one are warned about with file and offset; the rest is read."""
    trail = AuditTrail(str(tmp_path), "reader-1")
    for number in range(5):
        trail.append(T0 + number, "bank-a", "Check", f"{number:024d}", "OK", PHONE_KEY, [])
    trail.close()
    [path] = segment_paths(str(tmp_path))
    data = bytearray(Path(path).read_bytes())
    frame = (len(data) - 8) // 5
    data[8 + frame + 30] ^= 0xFF  # inside record 1
    Path(path).write_bytes(bytes(data[:-3]))  # record 4 torn
    done = run_audit(tmp_path, "--partner", "bank-a", "--format", "jsonl")
    assert done.returncode == 0
    assert [line.count('"request_id": "000000000000000000000') for line in done.stdout.splitlines()] == [1, 1, 1]
    warnings = done.stderr.splitlines()
    assert len(warnings) == 2 and all(path in warning for warning in warnings)
    assert f"at byte {8 + frame}: damaged record" in warnings[0]
    assert f"at byte {8 + 4 * frame}: unreadable tail" in warnings[1]


def test_not_a_segment_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """A foreign *.audit file is reported and skipped; the real segments are still read."""
    _trail(tmp_path)
    (tmp_path / "0-stray.audit").write_bytes(b"hello world")
    done = run_audit(tmp_path, "--partner", "bank-a", "--format", "jsonl")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1 and "not an audit segment" in done.stderr


def test_segments_rotate_by_size_and_all_are_read(tmp_path: Path) -> None:
    """A trail over its segment size starts new files; the command reads them all, oldest first."""
    trail = AuditTrail(str(tmp_path), "reader-2", segment_bytes=2_000, commit_interval=0.001)
    for number in range(40):
        trail.append(T0 + number, "bank-a", "BatchCheck", f"{number:024d}", "OK", PHONE_KEY * 5, [1])
        if number % 10 == 9:
            trail.flush()
    trail.close()
    assert len(segment_paths(str(tmp_path))) >= 3
    found = audit_jsonl(tmp_path, "--digest", PHONE_KEY.hex())
    assert [r["request_id"] for r in found] == [f"{n:024d}" for n in range(40)]
    assert {r["result"] for r in found} == {"hit"}


def test_records_are_durable_within_the_commit_interval(tmp_path: Path) -> None:
    """Without close or flush, an appended record reaches the file within a few commit intervals."""
    trail = AuditTrail(str(tmp_path), "writer", commit_interval=0.01)
    try:
        trail.append(T0, "bank-a", "Check", "e" * 24, "OK", PHONE_KEY, [])
        wait_until(lambda: audit_jsonl(tmp_path, "--partner", "bank-a"), timeout=5, message="record not committed")
    finally:
        trail.close()


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """`risklist-admin audit … | head -1` ends quietly with exit 0 once the reader has had enough (no pipe error)."""
    trail = AuditTrail(str(tmp_path), "writer")
    for number in range(5000):  # far more output than a pipe buffers
        trail.append(T0 + number, "bank-a", "Check", f"{number:024d}", "OK", PHONE_KEY, [0])
    trail.close()
    command = " ".join(shlex.quote(part) for part in
                       [*AUDIT_COMMAND, "--dir", str(tmp_path), "--partner", "bank-a", "--format", "jsonl"])
    done = subprocess.run(["bash", "-o", "pipefail", "-c", f"{command} | head -1"], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.count("\n") == 1
    assert (done.returncode, done.stderr) == (0, "")


def _node_trails(tmp_path: Path) -> tuple[Path, Path]:
    """Two nodes' audit directories whose records interleave in time (node-a at even seconds, node-b at odd)."""
    node_a, node_b = tmp_path / "node-a", tmp_path / "node-b"
    for directory, first in ((node_a, 0), (node_b, 1)):
        trail = AuditTrail(str(directory), "writer")
        for second in range(first, 6, 2):
            trail.append(T0 + second * 10**9, "bank-a", "Check", f"{directory.name}-{second}".ljust(24, "0"), "OK",
                         PHONE_KEY, [0])
        trail.close()
    return node_a, node_b


def test_several_directories_are_merged_in_time_order_each_record_labelled_with_its_directory(
        tmp_path: Path) -> None:
    """--dir repeated reads every node's trail: one list, oldest first, each record naming the directory it is from."""
    node_a, node_b = _node_trails(tmp_path)
    found = audit_jsonl([node_a, node_b], "--digest", PHONE_KEY.hex())
    assert [(record["dir"], record["time_ns"]) for record in found] == [
        (str(node_a if second % 2 == 0 else node_b), T0 + second * 10**9) for second in range(6)]
    assert all(record["result"] == "hit" for record in found)

    table = run_audit([node_a, node_b], "--partner", "bank-a")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:4] == ["TIME", "(UTC)", "DIR", "PARTNER"]
    assert [row.split()[1] for row in rows] == [str(node_a), str(node_b)] * 3


def test_one_directory_keeps_the_table_without_a_dir_column(tmp_path: Path) -> None:
    """With a single --dir the table is as it always was; jsonl names the directory too."""
    node_a, _ = _node_trails(tmp_path)
    done = run_audit(node_a, "--partner", "bank-a")
    assert done.stdout.splitlines()[0].split()[:3] == ["TIME", "(UTC)", "PARTNER"]
    assert {record["dir"] for record in audit_jsonl(node_a, "--partner", "bank-a")} == {str(node_a)}


def test_a_missing_one_of_several_directories_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    """Of several --dir, one that does not exist stops the command (exit 2) naming that one."""
    node_a, _ = _node_trails(tmp_path)
    done = run_audit([node_a, tmp_path / "node-c"], "--partner", "bank-a")
    assert done.returncode == 2 and f"--dir {tmp_path / 'node-c'} is not a directory" in done.stderr
    again = run_audit([node_a, node_a], "--partner", "bank-a")
    assert again.returncode == 2 and "are the same directory" in again.stderr


def test_damage_in_one_directory_is_warned_with_its_path_and_every_other_record_is_read(tmp_path: Path) -> None:
    """A torn segment in one node's directory is a warning naming that file; the rest of both trails is listed."""
    node_a, node_b = _node_trails(tmp_path)
    [path] = segment_paths(str(node_b))
    Path(path).write_bytes(Path(path).read_bytes()[:-3])  # node-b's last record torn
    done = run_audit([node_a, node_b], "--partner", "bank-a", "--format", "jsonl")
    assert done.returncode == 0
    assert f"warning: {path} at byte" in done.stderr and str(node_a) not in done.stderr
    assert len(done.stdout.splitlines()) == 5
