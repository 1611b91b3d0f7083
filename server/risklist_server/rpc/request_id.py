"""Request ids: name one answer in responses, the audit trail and ReportOutcome."""

from __future__ import annotations

import os
import time

from risklist_server.core.hit_token import NONCE_BYTES, encode_request_id


def new_request_id() -> str:
    """24 hex characters: the second it was issued (32 bits) and 64 random bits (risklist_server.core.hit_token).

    Unique for the life of any network; ReportOutcome reads the issue time back to bound how late
    an answer's hits may be graded.
    """
    return encode_request_id(int(time.time()), os.urandom(NONCE_BYTES))
