"""Latency percentiles and medians of runs, the arithmetic every scenario reports with."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50.0), ("p99", 99.0), ("p99.9", 99.9))


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (0 < pct ≤ 100) of already sorted values; NaN when empty."""
    if not sorted_values:
        return math.nan
    if not 0 < pct <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {pct}")
    rank = math.ceil(pct / 100 * len(sorted_values))
    return float(sorted_values[max(rank, 1) - 1])


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency percentiles in milliseconds over `count` samples."""

    count: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, float | int]:
        return {"count": self.count, "p50_ms": _round(self.p50_ms), "p99_ms": _round(self.p99_ms),
                "p99.9_ms": _round(self.p999_ms), "max_ms": _round(self.max_ms)}


def summarise_ms(samples_ms: Iterable[float]) -> Latency:
    """Percentiles of latency samples given in milliseconds."""
    ordered = sorted(samples_ms)
    return Latency(
        count=len(ordered),
        p50_ms=percentile(ordered, 50.0),
        p99_ms=percentile(ordered, 99.0),
        p999_ms=percentile(ordered, 99.9),
        max_ms=ordered[-1] if ordered else math.nan,
    )


def median(values: Iterable[float]) -> float:
    """The median of the finite values; NaN when there are none."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    return statistics.median(finite) if finite else math.nan


def median_of_runs(runs: Sequence[Mapping[str, object]]) -> dict[str, object]:
    """Per key, the median of numeric values across runs (nested mappings recursively); other
    values are taken from the first run."""
    if not runs:
        return {}
    merged: dict[str, object] = {}
    for key, first in runs[0].items():
        values = [run.get(key) for run in runs]
        if isinstance(first, bool) or not isinstance(first, (int, float, Mapping)):
            merged[key] = first
        elif isinstance(first, Mapping):
            merged[key] = median_of_runs([value for value in values if isinstance(value, Mapping)])
        else:
            numbers = [float(value) for value in values if isinstance(value, (int, float))]
            result = median(numbers)
            merged[key] = _round(result) if isinstance(first, float) or not result.is_integer() else int(result)
    return merged


def ratio(ours: float, peer: float) -> float:
    """ours / peer rounded to 2 decimals, or to 2 significant digits below 0.1 (so a small ratio never shows as 0);
    NaN when the peer is zero or unknown."""
    if not peer or not math.isfinite(peer) or not math.isfinite(ours):
        return math.nan
    value = ours / peer
    if value and abs(value) < 0.1:
        return round(value, 1 - math.floor(math.log10(abs(value))))
    return round(value, 2)


def _round(value: float) -> float:
    if not math.isfinite(value):
        return value
    return round(value, 3) if abs(value) < 1000 else round(value, 1)
