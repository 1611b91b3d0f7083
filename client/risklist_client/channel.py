"""The one gRPC channel a client uses: TLS or insecure, retries of UNAVAILABLE by service config, and with several
nodes, grpc's round_robin over those whose health says SERVING."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from typing import Any

import grpc

from risklist_client.targets import ChannelTarget, TargetLike, parse_target

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


def _waiting_for_a_node(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with every method waiting, within its deadline, for a node to serve."""
    waiting = copy.deepcopy(config)
    for method in waiting["methodConfig"]:
        method["waitForReady"] = True
    return waiting


FAILOVER_SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "healthCheckConfig": {"serviceName": SERVICE},
    **_waiting_for_a_node(RETRY_SERVICE_CONFIG),
}
"""Several nodes: a connection to each, calls spread over those whose grpc health (a Watch stream per connection)
says SERVING for risklist.v1.RiskList. A node NOT_SERVING (behind the cluster's write log, cut off from it, or
shutting down) gets no calls until it serves again. With none serving, a call waits for one within its deadline
(a node's health flapping under load costs a moment, not an error), then fails DEADLINE_EXCEEDED; it is never sent
to a node that is not serving. A call cut by a dying node is retried, within its deadline, on another (the retry
policy above)."""


def service_config(target: ChannelTarget) -> dict[str, Any]:
    """The service config for `target`: retries only for one address (as ever), round_robin with health for several."""
    return FAILOVER_SERVICE_CONFIG if target.failover else RETRY_SERVICE_CONFIG


def channel_options(target: ChannelTarget) -> list[tuple[str, Any]]:
    """grpc channel arguments for `target`. The caller's options come after them and add to them: grpc keeps the
    first value it is given for a key, so these are never replaced."""
    options: list[tuple[str, Any]] = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", json.dumps(service_config(target))),
        ("grpc.keepalive_time_ms", 30_000),
    ]
    if target.failover:
        # A DNS TXT record never replaces the service config: no one but the bank turns health checks off.
        options.append(("grpc.service_config_disable_resolution", 1))
    if target.authority is not None:
        options.append(("grpc.default_authority", target.authority))
    return options


def open_channel(
    target: TargetLike | ChannelTarget, credentials: grpc.ChannelCredentials | None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Channel:
    """A channel to `target` (risklist_client.targets: one address, several, or a dns: name; or one already parsed);
    `credentials` None means plaintext (a --insecure-dev server only); InvalidTarget for an unusable address,
    before anything is opened."""
    parsed = target if isinstance(target, ChannelTarget) else parse_target(target)
    all_options = [*channel_options(parsed), *options]
    if credentials is None:
        return grpc.insecure_channel(parsed.uri, options=all_options)
    return grpc.secure_channel(parsed.uri, credentials, options=all_options)


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
