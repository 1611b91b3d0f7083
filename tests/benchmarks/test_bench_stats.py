"""Percentiles, medians of runs and ratios."""

from __future__ import annotations

import math

import pytest

from benchmarks.stats import median, median_of_runs, percentile, ratio, summarise_ms


def test_nearest_rank_percentiles() -> None:
    """p50 of 1..100 is 50, p99 is 99, p99.9 is 100 (nearest rank, never interpolated)."""
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 99.9) == 100
    assert percentile(values, 100) == 100


def test_percentile_of_one_sample_and_of_none() -> None:
    """One sample is every percentile; no samples give NaN."""
    assert percentile([3.0], 0.1) == 3.0
    assert math.isnan(percentile([], 50))


def test_percentile_out_of_range_is_refused() -> None:
    """0 and values above 100 are not percentiles."""
    with pytest.raises(ValueError):
        percentile([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_sorts_its_samples() -> None:
    """Unsorted samples give the same percentiles as sorted ones, with the count and maximum."""
    summary = summarise_ms([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (summary.count, summary.p50_ms, summary.p99_ms, summary.max_ms) == (5, 3.0, 5.0, 5.0)


def test_median_ignores_missing_values() -> None:
    """NaN and None are left out; nothing left gives NaN."""
    assert median([3.0, math.nan, 1.0, 2.0]) == 2.0
    assert math.isnan(median([math.nan]))


def test_median_of_runs_is_per_key_and_nested() -> None:
    """Numbers take their median over runs, nested mappings recursively, text comes from run one."""
    runs = [{"name": "a", "ops": 10.0, "lat": {"p99": 3.0}, "n": 1},
            {"name": "b", "ops": 30.0, "lat": {"p99": 1.0}, "n": 3},
            {"name": "c", "ops": 20.0, "lat": {"p99": 2.0}, "n": 2}]
    assert median_of_runs(runs) == {"name": "a", "ops": 20.0, "lat": {"p99": 2.0}, "n": 2}


def test_ratio_rounds_and_refuses_a_zero_peer() -> None:
    """ours / peer to two places (two significant digits when smaller); a zero or unknown peer gives NaN."""
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(0.45, 100.0) == 0.0045  # a small ratio keeps two significant digits, never rounds to 0
    assert ratio(-0.45, 100.0) == -0.0045
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(1.0, math.nan))
