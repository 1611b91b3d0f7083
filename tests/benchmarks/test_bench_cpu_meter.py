"""The CPU meter splits a phase's CPU between the named processes and the rest of the machine."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.cpu_meter import CpuMeter

SPINNER = ("import sys, time\nsys.stdin.readline()\nwhile time.process_time() < 0.3:\n    pass\n"
           "print('spun', flush=True)\nsys.stdin.read()\n")


def test_a_named_process_cpu_is_counted_as_its_own_and_inside_the_machines() -> None:
    """A child that burns 0.3 s of CPU inside the block (and is still running at its end, as the servers measured
    are) is counted under its name and within the machine's busy time; per operation is that divided by the count."""
    with subprocess.Popen([sys.executable, "-c", SPINNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            with CpuMeter({}, {"spinner": [child.pid]}) as meter:
                child.stdin.write("go\n")
                child.stdin.flush()
                assert child.stdout.readline() == "spun\n"
        finally:
            child.kill()
    assert meter.seconds["spinner"] >= 0.29
    assert meter.seconds["machine"] >= meter.seconds["spinner"] - 0.02
    assert abs(meter.seconds["other"] - (meter.seconds["machine"] - meter.seconds["spinner"])) < 1e-9
    assert meter.cpu_ms_per(10)["spinner"] == round(100 * meter.seconds["spinner"], 3)
