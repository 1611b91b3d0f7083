"""What a looked-up subject costs of a member's subjects quota: a digest 1, a raw value more.

A raw value costs RAW_VALUE_SUBJECTS up front. Once a call's raw values are normalised, the CPU that took is
charged at one subject per SUBJECT_CPU_SECONDS beyond that (and beyond CALL_ALLOWANCE_SUBJECTS a call): most raw
values cost exactly 8, but a pathological one (a 240-character internationalised e-mail domain takes 0.6-0.9 ms
of IDNA: benchmarks/normalise_cost.py) costs what it cost the server, so no member buys a worker's CPU at the
price of plain values.
"""

from __future__ import annotations

import math

RAW_VALUE_SUBJECTS = 8
"""What a subject sent as a raw value costs of the subjects quota, against 1 for a digest: the server normalises and
digests each raw value, 6.6x the CPU of a digest at 1,000 a batch (benchmarks/RESULTS.md, BatchCheck 1000 raw values
against digests), more for phone numbers. Counted as one, raw values within a member's quota could take more
CPU than a worker has, and starve every other member."""

SUBJECT_CPU_SECONDS = 2e-6
"""The CPU one subject of the quota stands for: a digest looked up in a batch of 1,000 (1.92 us a key, the
harness's BatchCheck of 1000 digests on one worker). RAW_VALUE_SUBJECTS of it (16 us) covers a plain raw value."""


CALL_ALLOWANCE_SUBJECTS = 50
"""Normalising CPU a call's raw values may take (100 us) before it is charged beyond RAW_VALUE_SUBJECTS each: so a
call of a few plain values is never charged for a cold first call or the interpreter's jitter."""


def subjects_charge(digests: int, raw_values: int) -> int:
    """What a batch of `digests` digests and `raw_values` raw values costs of the subjects quota up front."""
    return digests + RAW_VALUE_SUBJECTS * raw_values


def normalising_overrun(digests: int, raw_values: int, cpu_seconds: float) -> int:
    """The subjects owed for resolving one call's `digests` digests and `raw_values` raw values in `cpu_seconds` of
    CPU, at one per SUBJECT_CPU_SECONDS, beyond what they cost up front (subjects_charge) and
    CALL_ALLOWANCE_SUBJECTS; nothing for a call without raw values (digests cost what they are charged)."""
    if not raw_values:
        return 0
    included = max(subjects_charge(digests, raw_values), CALL_ALLOWANCE_SUBJECTS)
    return max(0, math.ceil(cpu_seconds / SUBJECT_CPU_SECONDS - 1e-9) - included)
