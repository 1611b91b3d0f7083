"""Test builds' pause points (risklist_kernel.pause_point, shared with the SDK): kill -9 a job at a named step."""

from __future__ import annotations

from risklist_kernel.pause_point import PAUSE_AT_ENV, PAUSE_FILE_ENV, pause_point

__all__ = ["PAUSE_AT_ENV", "PAUSE_FILE_ENV", "pause_point"]
