"""The network secret: one implementation, shared with the SDK (risklist_client.secret)."""

from __future__ import annotations

from risklist_client.secret import (
    DEMO_SECRET_HEX,
    MAX_SECRET_BYTES,
    MIN_SECRET_BYTES,
    SECRET_FILE_ENV,
    NetworkSecret,
    load_secret,
)

__all__ = ["DEMO_SECRET_HEX", "MAX_SECRET_BYTES", "MIN_SECRET_BYTES", "SECRET_FILE_ENV", "NetworkSecret", "load_secret"]
