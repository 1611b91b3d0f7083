"""What a looked-up subject costs of a member's subjects quota: a digest 1, a raw value more."""

from __future__ import annotations

RAW_VALUE_SUBJECTS = 8
"""What a subject sent as a raw value costs of the subjects quota, against 1 for a digest: the server normalises and
digests each raw value, 6.6x the CPU of a digest at 1,000 a batch (benchmarks/RESULTS.md, BatchCheck 1000 raw values
against digests), more for phone numbers. Counted as one, raw values within a member's quota could take more
CPU than a worker has, and starve every other member."""


def subjects_charge(digests: int, raw_values: int) -> int:
    """What a batch of `digests` digests and `raw_values` raw values costs of the subjects quota."""
    return digests + RAW_VALUE_SUBJECTS * raw_values
