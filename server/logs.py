"""Logging configuration in one place: JSON lines in production, console on a terminal."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["json", "console"]


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
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
