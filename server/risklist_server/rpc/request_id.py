"""Request ids: name one answer in responses, the audit trail and ReportOutcome."""

from __future__ import annotations

import os


def new_request_id() -> str:
    """24 hex characters (96 random bits): unique for the life of any network."""
    return os.urandom(12).hex()
