"""h2load's command line for gRPC, and parsing its summary and per-request log."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.h2load import Job, command, parse_log, parse_output, parse_timed_log

OUTPUT = """\
finished in 4.00s, 2048.00 req/s, 204.32KB/s
requests: 6144 total, 6144 started, 6144 done, 6140 succeeded, 4 failed, 0 errored, 0 timeout
status codes: 6140 2xx, 0 3xx, 0 4xx, 4 5xx
traffic: 612.96KB (627668) total, 24.06KB (24642) headers (space savings 96.25%), 348.65KB (357016) data
"""


def test_summary_counters_are_parsed() -> None:
    """done, succeeded, failed and the 2xx count come from h2load's summary lines."""
    counts = parse_output(OUTPUT)
    assert (counts.done, counts.succeeded, counts.failed, counts.errored, counts.status_2xx) == (6144, 6140, 4, 0, 6140)


def test_missing_summary_is_an_error() -> None:
    """Output without the summary (h2load failed to connect) raises ValueError."""
    with pytest.raises(ValueError):
        parse_output("starting benchmark...\n")


def test_log_latencies_of_successful_streams_in_ms() -> None:
    """The third column is microseconds; failed streams (status -1) are left out."""
    log = "1795438574423325\t200\t7582\n1795438574423507\t-1\t100\n1795438574423580\t200\t250\n"
    assert parse_log(log) == [7.582, 0.25]


def test_command_sends_grpc_posts(tmp_path: Path) -> None:
    """The body file is POSTed with gRPC's headers; open loop adds --rps per connection."""
    body = tmp_path / "body.bin"
    argv = command("http://127.0.0.1:1/risklist.v1.RiskList/Check", Job(body, 2, 8, 125.0), duration=1.5,
                   warmup=0.5, log_file=tmp_path / "log")
    assert argv[0] == "h2load" and argv[-1].endswith("/risklist.v1.RiskList/Check")
    pairs = dict(zip(argv[1:-1:2], argv[2:-1:2], strict=False))
    assert pairs["-d"] == str(body) and pairs["-c"] == "2" and pairs["-m"] == "8"
    assert pairs["-D"] == "1500ms" and pairs["--warm-up-time"] == "500ms" and pairs["--rps"] == "125"
    headers = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-H"]
    assert headers == ["content-type: application/grpc", "te: trailers"]


def test_closed_loop_has_no_rate(tmp_path: Path) -> None:
    """Without a rate the job runs closed loop: no --rps."""
    argv = command("http://h/x", Job(tmp_path / "b", 1), duration=1, warmup=0, log_file=tmp_path / "log")
    assert "--rps" not in argv and "--warm-up-time" not in argv


def test_a_pinned_job_runs_under_taskset(tmp_path: Path) -> None:
    """With cpus, h2load runs on those CPUs only (the server keeps the others)."""
    argv = command("http://h/x", Job(tmp_path / "b", 1), duration=1, warmup=0, log_file=tmp_path / "log", cpus="1")
    assert argv[:4] == ["taskset", "-c", "1", "h2load"]


def test_timed_log_keeps_each_calls_start_in_seconds() -> None:
    """The first column (µs since the epoch) becomes seconds beside the latency, for finding slow episodes."""
    log = "1795438574423325\t200\t7582\n1795438574423507\t-1\t100\n1795438575423580\t200\t250\n"
    assert parse_timed_log(log) == [(1795438574.423325, 7.582), (1795438575.42358, 0.25)]
