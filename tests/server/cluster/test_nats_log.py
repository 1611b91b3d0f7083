"""What cluster mode relies on in NATS JetStream, shown on three real nats-servers: a stream replicated on three
servers acknowledges a write only once a quorum holds it, keeps acknowledging with one server down, refuses within
the publisher's deadline with two down, and loses nothing it acknowledged; a repeated message id is stored once."""

from __future__ import annotations

import asyncio
import time

import nats
from nats.errors import NoRespondersError, TimeoutError
from nats.js.api import StreamConfig
from nats.js.errors import NoStreamResponseError

from tools.local_nats import NatsCluster

STREAM = "RISKLIST_TEST"
SUBJECT = "risklist.test.writes"
WRITE_DEADLINE_S = 15.0
"""A caller's deadline: long enough for a new stream leader to be elected on a loaded machine."""
REFUSED_DEADLINE_S = 1.5
RETRY_PAUSE_S = 0.05


async def _publish(urls: list[str], numbers: range, deadline_s: float) -> list[int]:
    """Publish one message per number (its id the number), each retried as a risklist node retries a write until
    its caller's deadline (a stream leader being elected answers no one); the numbers acknowledged, in order."""
    connection = await nats.connect(servers=urls, connect_timeout=2, max_reconnect_attempts=-1,
                                    reconnect_time_wait=0.1)
    acknowledged = []
    loop = asyncio.get_running_loop()
    try:
        stream = connection.jetstream()
        for number in numbers:
            deadline = loop.time() + deadline_s
            while (remaining := deadline - loop.time()) > 0:
                try:
                    await stream.publish(SUBJECT, str(number).encode(), timeout=min(remaining, 1.0),
                                         headers={"Nats-Msg-Id": f"write-{number}"})
                except (TimeoutError, NoRespondersError, NoStreamResponseError):
                    await asyncio.sleep(min(RETRY_PAUSE_S, max(0.0, deadline - loop.time())))
                    continue
                acknowledged.append(number)
                break
    finally:
        await connection.close()
    return acknowledged


async def _create_stream(urls: list[str]) -> None:
    connection = await nats.connect(servers=urls)
    try:
        await connection.jetstream().add_stream(StreamConfig(name=STREAM, subjects=[SUBJECT], num_replicas=3,
                                                             duplicate_window=120.0))
    finally:
        await connection.close()


async def _stored(urls: list[str]) -> list[int]:
    """Every message of the stream, read back in order."""
    connection = await nats.connect(servers=urls)
    try:
        stream = connection.jetstream()
        info = await stream.stream_info(STREAM)
        numbers = []
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            message = await stream.get_msg(STREAM, sequence)
            assert message.data is not None
            numbers.append(int(message.data))
        return numbers
    finally:
        await connection.close()


def test_acknowledged_writes_survive_one_server_lost_and_none_is_acknowledged_without_a_quorum(
        cluster: NatsCluster) -> None:
    urls = cluster.urls
    asyncio.run(_create_stream(urls))
    assert asyncio.run(_publish(urls, range(0, 50), WRITE_DEADLINE_S)) == list(range(0, 50))

    cluster.kill("n1")
    assert asyncio.run(_publish(urls[1:], range(50, 100), WRITE_DEADLINE_S)) == list(range(50, 100))

    cluster.kill("n2")
    started = time.monotonic()
    assert asyncio.run(_publish(urls[2:], range(100, 103), REFUSED_DEADLINE_S)) == []
    assert time.monotonic() - started < 3 * REFUSED_DEADLINE_S + 5  # each refused within its deadline

    cluster.start("n1", "n2")
    assert asyncio.run(_publish(urls, range(103, 110), WRITE_DEADLINE_S)) == list(range(103, 110))
    stored = asyncio.run(_stored(urls))
    assert [number for number in stored if number < 100] == list(range(0, 100))  # nothing acknowledged is lost
    assert stored[-7:] == list(range(103, 110))


def test_a_repeated_message_id_is_stored_once(cluster: NatsCluster) -> None:
    urls = cluster.urls
    asyncio.run(_create_stream(urls))
    asyncio.run(_publish(urls, range(0, 5), WRITE_DEADLINE_S))
    asyncio.run(_publish(urls, range(3, 8), WRITE_DEADLINE_S))  # a retry of 3 and 4 after a lost acknowledgement
    assert asyncio.run(_stored(urls)) == list(range(0, 8))
