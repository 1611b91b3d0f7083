"""Reading CPU and memory of process trees from /proc."""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.procstats import TreeSampler, descendants, machine_cpu_seconds, parse_stat, read_proc


def test_stat_line_with_spaces_and_parentheses_in_the_name() -> None:
    """The command name may hold spaces and ')'; fields are counted from the last ')'."""
    fields = ["S", "41"] + ["0"] * 9 + ["300", "200"] + ["0"] * 8 + ["25"]
    line = "1234 (odd) name) " + " ".join(fields) + " 0 0 0"
    name, ppid, cpu, rss = parse_stat(line)
    assert name == "odd) name"
    assert ppid == 41
    assert cpu == 500 / os.sysconf("SC_CLK_TCK")
    assert rss == 25 * os.sysconf("SC_PAGE_SIZE")


def test_own_process_is_readable() -> None:
    """This process has a parent, a positive RSS and a peak at least as large."""
    info = read_proc(os.getpid())
    assert info is not None
    assert info.ppid == os.getppid()
    assert 0 < info.rss_bytes <= info.hwm_bytes


def test_a_gone_process_reads_as_none() -> None:
    """A pid that no longer exists gives None, not an error."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    assert read_proc(int(child.stdout)) is None


def test_sampler_sees_a_child_process() -> None:
    """A child started under the sampled root shows up among its descendants and in the summary."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert child.pid in descendants(os.getpid())
        sampler = TreeSampler(os.getpid())
        sampler.sample()
        summary = sampler.summary()
        assert child.pid in {entry["pid"] for entry in summary["processes"]}  # type: ignore[attr-defined]
        assert sampler.peak_tree_rss_bytes > 0
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()


def test_machine_cpu_is_busy_time_within_total_time() -> None:
    """The machine's busy CPU seconds are positive, never above its total, and never go back."""
    busy, total = machine_cpu_seconds()
    assert 0 < busy <= total
    later_busy, later_total = machine_cpu_seconds()
    assert later_busy >= busy and later_total >= total
