"""Every exception the loader raises on purpose, in one leaf module."""

from __future__ import annotations

from risklist_kernel.errors import RiskListError


class LoaderError(RiskListError):
    """Base class of the loader's own errors; the CLI maps each subclass to an exit code."""


class UsageError(LoaderError):
    """The command line is wrong (exit 2): a bad flag value, a missing feed file."""


class FeedError(LoaderError):
    """The feed as a whole cannot be loaded (exit 1); `line` is 0 when no line is at fault."""

    def __init__(self, message: str, *, line: int = 0, field: str = "file") -> None:
        super().__init__(message)
        self.line = line
        self.field = field


class SinkError(LoaderError):
    """The store or server failed or refused the load (exit 1)."""
