"""Logging configuration in one place: JSON lines in production, console on a terminal."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["json", "console"]

_process_fields: dict[str, object] = {}


def set_process_fields(**fields: object) -> None:
    """Fields added to every later log line of this process (which worker: writer or reader-N, and its pid)."""
    _process_fields.clear()
    _process_fields.update(fields)


def _add_process_fields(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    for name, value in _process_fields.items():
        event.setdefault(name, value)
    return event


def default_format() -> LogFormat:
    """Console when stderr is a terminal, JSON lines otherwise."""
    return "console" if sys.stderr.isatty() else "json"


def configure_logging(log_format: LogFormat | None = None, level: int = logging.INFO) -> None:
    """Configure structlog to write to stderr; call once at process start."""
    chosen = log_format or default_format()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if chosen == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_process_fields,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # One write per line (print() makes two), so lines of several worker processes never
        # interleave on a shared stderr.
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
