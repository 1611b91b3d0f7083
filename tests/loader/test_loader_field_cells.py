"""field_cells and marked_between (risklist_loader.field_cells) against their plain-Python meaning."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_loader.field_cells import field_cells, marked_between


@st.composite
def buffers_and_fields(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, int]], int]:
    data = draw(st.binary(max_size=120))
    bounds = draw(st.lists(st.tuples(st.integers(0, len(data)), st.integers(0, len(data))), max_size=25))
    return data, [(min(pair), max(pair)) for pair in bounds], draw(st.integers(1, 50))


@settings(max_examples=300, deadline=None)
@given(buffers_and_fields())
def test_field_cells_are_each_fields_first_bytes_zero_padded(case: tuple[bytes, list[tuple[int, int]], int]) -> None:
    data, bounds, width = case
    buffer = np.frombuffer(data, dtype=np.uint8)
    starts = np.array([start for start, _ in bounds], dtype=np.int64)
    ends = np.array([end for _, end in bounds], dtype=np.int64)
    cells = field_cells(buffer, starts, ends, width)
    assert cells.shape == (len(bounds), width)
    assert [bytes(row) for row in cells] == [data[start:end][:width].ljust(width, b"\0") for start, end in bounds]


@settings(max_examples=300, deadline=None)
@given(buffers_and_fields())
def test_marked_between_counts_the_marks_in_each_range(case: tuple[bytes, list[tuple[int, int]], int]) -> None:
    data, bounds, _ = case
    marked = np.frombuffer(data, dtype=np.uint8) > 200
    starts = np.array([start for start, _ in bounds], dtype=np.int64)
    ends = np.array([end for _, end in bounds], dtype=np.int64)
    assert marked_between(marked, starts, ends).tolist() == [sum(byte > 200 for byte in data[start:end])
                                                             for start, end in bounds]
