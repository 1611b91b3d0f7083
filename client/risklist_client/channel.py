"""The one gRPC channel a client uses: TLS or insecure, retries of UNAVAILABLE by service config."""

from __future__ import annotations

import json
import time
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


def close_watched_channel(channel: grpc.Channel, callback: Any, *, wait_seconds: float = 1.0) -> None:
    """Unsubscribe `callback`, let grpc's connectivity thread notice, then close the channel.

    grpc's polling thread watches the channel in 0.2 s slices and only then sees that nobody is
    subscribed; a channel closed meanwhile makes that thread die with "Cannot monitor channel
    state: Channel closed!" (printed by threading's excepthook in the bank's process). So wait,
    bounded, for the thread to stop before closing.
    """
    channel.unsubscribe(callback)
    state = getattr(channel, "_connectivity_state", None)  # grpc's own; absent in another implementation
    deadline = time.monotonic() + wait_seconds
    while state is not None and getattr(state, "polling", False) and time.monotonic() < deadline:
        time.sleep(0.01)
    channel.close()
