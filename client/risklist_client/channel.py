"""The one gRPC channel a client uses: TLS or insecure, retries of UNAVAILABLE by service config."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import grpc

SERVICE = "risklist.v1.RiskList"

RETRY_SERVICE_CONFIG = {
    "methodConfig": [{
        "name": [{"service": SERVICE}],
        "retryPolicy": {
            "maxAttempts": 4,
            "initialBackoff": "0.05s",
            "maxBackoff": "0.5s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }],
}
"""Calls that fail UNAVAILABLE (a worker restarting, a connection reset) are retried up to 3 times,
within the call's own deadline; streaming calls are retried only before their first message."""


def open_channel(
    target: str, credentials: grpc.ChannelCredentials | None, options: Sequence[tuple[str, Any]] = ()
) -> grpc.Channel:
    """A channel to `target`; `credentials` None means plaintext (a --insecure-dev server only)."""
    all_options: list[tuple[str, Any]] = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", json.dumps(RETRY_SERVICE_CONFIG)),
        ("grpc.keepalive_time_ms", 30_000),
        *options,
    ]
    if credentials is None:
        return grpc.insecure_channel(target, options=all_options)
    return grpc.secure_channel(target, credentials, options=all_options)
