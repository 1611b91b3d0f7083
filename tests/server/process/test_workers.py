"""risklist-server --workers N: readers sharing the port, the writer, restarts, drain, metrics."""

from __future__ import annotations

import functools
import os
import queue
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.running_server import BIN, ServerProcess, start_server
from tests.support.waiting import wait_until

CONNECTIONS = 32
"""Separate connections; the kernel spreads them over the readers (all on one: p = 2^-31)."""


@pytest.fixture()
def two_workers(tmp_path: Path, secret_file: Path) -> Iterator[ServerProcess]:
    running = start_server(tmp_path / "db", secret_file, "--workers", "2", "--metrics-listen", "127.0.0.1:0",
                           "--rpc-log", "all")
    try:
        yield running
    finally:
        running.terminate()


def _channels(address: str, count: int = CONNECTIONS) -> list[grpc.Channel]:
    # A local subchannel pool per channel: each channel opens its own TCP connection.
    return [grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(count)]


def _check_phone(channel: grpc.Channel, value: str = PHONE) -> pb.CheckResponse:
    request = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=value))
    response: pb.CheckResponse = pb_grpc.RiskListStub(channel).Check(request, timeout=10)
    return response


def _listed_answer(channel: grpc.Channel) -> pb.CheckResponse | None:
    """The phone's answer on `channel` if it is listed there."""
    response = _check_phone(channel)
    return response if response.verdict.listed else None


def _pids(server: ServerProcess) -> dict[str, int]:
    pids = server.serving["pids"]
    assert isinstance(pids, dict)
    return {str(name): int(pid) for name, pid in pids.items()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_readers_share_the_port_and_each_answers(two_workers: ServerProcess) -> None:
    """Connections to the one address are served by both reader processes, and none by the writer."""
    channels = _channels(two_workers.address)
    try:
        for channel in channels:
            assert not _check_phone(channel).verdict.listed
    finally:
        for channel in channels:
            channel.close()
    served = {two_workers.wait_for_log(lambda e, name=name: e.get("event") == "rpc" and e.get("worker") == name)["pid"]
              for name in ("reader-1", "reader-2")}
    assert served == {_pids(two_workers)["reader-1"], _pids(two_workers)["reader-2"]}
    assert not any(e.get("event") == "rpc" and e.get("worker") == "writer" for e in two_workers.log_lines)


def test_acknowledged_write_reaches_every_reader(two_workers: ServerProcess, secret: NetworkSecret) -> None:
    """After an acknowledged ingest, every connection answers LISTED with at least the acknowledged version."""
    _write_reaches_every_reader(two_workers, secret)


def _write_reaches_every_reader(two_workers: ServerProcess, secret: NetworkSecret) -> None:
    channels = _channels(two_workers.address)
    try:
        for channel in channels:  # connect all before the write
            assert not _check_phone(channel).verdict.listed
        version = ingest_phone(two_workers.admin_address, secret)
        for channel in channels:
            response = wait_until(functools.partial(_listed_answer, channel), timeout=10, interval=0,
                                  message="the acknowledged write never reached this connection")
            assert response.verdict.listed and response.list_version >= version
    finally:
        for channel in channels:
            channel.close()


def test_readers_map_the_writers_front_file_and_see_later_keys(two_workers: ServerProcess, tmp_path: Path,
                                                              secret: NetworkSecret) -> None:
    """Both readers map the one published front file read-only (no private copy), and a key reported after it
    was published is listed on every connection (each reader's overlay)."""
    front_file = str(tmp_path / "db" / "risklist-front.bin")
    for name in ("reader-1", "reader-2"):
        mapped = [line for line in Path(f"/proc/{_pids(two_workers)[name]}/maps").read_text().splitlines()
                  if line.endswith(front_file)]
        assert mapped and all(line.split()[1].startswith("r--") for line in mapped)
    _write_reaches_every_reader(two_workers, secret)
    published = [e["covered"] for e in two_workers.log_lines if e.get("event") == "front_published"]
    assert all(covered < 1 for covered in published)  # the new key reached the readers unpublished


def test_a_front_file_replaced_by_garbage_is_refused_then_republished(two_workers: ServerProcess, tmp_path: Path,
                                                                     secret: NetworkSecret) -> None:
    """A garbage file renamed over the front file: a reader that sees it refuses it (front_file_refused) and asks
    RocksDB, the writer publishes a good one within seconds (front_file_replaced), both readers map it, and the
    listed key stays listed."""
    version = ingest_phone(two_workers.admin_address, secret)
    front_file = tmp_path / "db" / "risklist-front.bin"
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"RLBF" + bytes(200))
    seen = len(two_workers.log_lines)
    os.replace(garbage, front_file)
    two_workers.wait_for_log(lambda e: e.get("event") == "front_file_replaced" and e.get("worker") == "writer")
    for name in ("reader-1", "reader-2"):
        two_workers.wait_for_log(lambda e, name=name: e.get("event") == "front_mapped" and e.get("worker") == name
                                 and e["covered"] >= version)
    refused = [e for e in two_workers.log_lines[seen:] if e.get("event") == "front_file_refused"]
    assert all(e["level"] == "error" and "format 0" in e["reason"] for e in refused)
    channels = _channels(two_workers.address)
    try:
        assert all(_check_phone(channel).verdict.listed for channel in channels)
    finally:
        for channel in channels:
            channel.close()


def test_killed_reader_is_restarted_while_the_other_serves(two_workers: ServerProcess) -> None:
    """kill -9 of a reader: checks keep succeeding, the supervisor starts a new reader, and it serves."""
    victim = _pids(two_workers)["reader-1"]
    os.kill(victim, signal.SIGKILL)
    died = two_workers.wait_for_log(lambda e: e.get("event") == "worker_died" and e.get("pid") == victim)
    assert died["status"] == "signal SIGKILL"
    channels = _channels(two_workers.address)
    try:
        for channel in channels:
            assert not _check_phone(channel).verdict.listed  # never UNAVAILABLE
        restarted = two_workers.wait_for_log(
            lambda e: e.get("event") == "worker_restarted" and e.get("worker") == "reader-1")
        new_pid = restarted["pid"]
        assert new_pid != victim
        for channel in _channels(two_workers.address, 64):
            _check_phone(channel)
            channel.close()
        two_workers.wait_for_log(lambda e: e.get("event") == "rpc" and e.get("pid") == new_pid)
    finally:
        for channel in channels:
            channel.close()


def test_killed_writer_is_restarted_on_the_same_admin_port(two_workers: ServerProcess, secret: NetworkSecret) -> None:
    """kill -9 of the writer: readers keep answering; the new writer takes ingests on the same port."""
    victim = _pids(two_workers)["writer"]
    os.kill(victim, signal.SIGKILL)
    two_workers.wait_for_log(lambda e: e.get("event") == "worker_restarted" and e.get("worker") == "writer")
    with grpc.insecure_channel(two_workers.address) as channel:
        assert not _check_phone(channel).verdict.listed
        version = ingest_phone(two_workers.admin_address, secret)
        response = wait_until(functools.partial(_listed_answer, channel), timeout=10, interval=0,
                              message="the new writer's ingest never became visible")
        assert response.verdict.listed and response.list_version == version


def test_sigterm_drains_every_worker(tmp_path: Path, secret_file: Path) -> None:
    """SIGTERM to the supervisor stops the writer and every reader, and the server exits 0."""
    running = start_server(tmp_path / "db", secret_file, "--workers", "3")
    pids = _pids(running)
    assert set(pids) == {"writer", "reader-1", "reader-2", "reader-3"}
    assert running.terminate() == 0
    assert not any(_alive(pid) for pid in pids.values())
    stopped = {e["worker"] for e in running.log_lines if e.get("event") == "worker_stopped"}
    assert stopped == set(pids)


def test_supervisor_never_loads_grpc_or_rocksdb(two_workers: ServerProcess) -> None:
    """Workers are forked from a process with no grpc or RocksDB library mapped, even for restarts."""
    maps = Path(f"/proc/{two_workers.process.pid}/maps").read_text()
    assert "cygrpc" not in maps and "rocksdict" not in maps
    reader_maps = Path(f"/proc/{_pids(two_workers)['reader-1']}/maps").read_text()
    assert "cygrpc" in reader_maps and "rocksdict" in reader_maps


def test_metrics_count_grpc_statuses_over_all_workers(tmp_path: Path, secret_file: Path) -> None:
    """/metrics sums every worker's grpc_server_handled_total by method and status code (default logging)."""
    two_workers = start_server(tmp_path / "db", secret_file, "--workers", "2", "--metrics-listen", "127.0.0.1:0")
    try:
        _count_statuses(two_workers)
    finally:
        two_workers.terminate()


def _count_statuses(two_workers: ServerProcess) -> None:
    channels = _channels(two_workers.address, 8)
    try:
        for channel in channels:
            _check_phone(channel)
        with pytest.raises(grpc.RpcError) as refused:
            _check_phone(channels[0], "not a phone")
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        for channel in channels:
            channel.close()
    url = f"http://127.0.0.1:{two_workers.serving['metrics_port']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    counts = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith("grpc_server_handled_total{")}
    service = 'grpc_code="{code}",grpc_method="Check",grpc_service="risklist.v1.RiskList"'
    assert counts["grpc_server_handled_total{" + service.format(code="OK") + "}"] == 8
    assert counts["grpc_server_handled_total{" + service.format(code="INVALID_ARGUMENT") + "}"] == 1


def test_worker_groups_never_share_a_port(tmp_path: Path, secret_file: Path, two_workers: ServerProcess) -> None:
    """A second server, with one worker or several, refuses the port a worker group holds."""
    for workers in ("1", "2"):
        subprocess.run([str(BIN / "risklist-admin"), "init-store", "--db", str(tmp_path / f"other-{workers}"),
                        "--secret-file", str(secret_file)], capture_output=True, timeout=60, check=True)
        result = subprocess.run(
            [str(BIN / "risklist-server"), "--db", str(tmp_path / f"other-{workers}"), "--secret-file",
             str(secret_file), "--listen", two_workers.address, "--admin-listen", "127.0.0.1:0",
             "--workers", workers, "--insecure-dev"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert result.returncode == 1 and "cannot listen on" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_sigterm_lets_an_open_stream_finish(tmp_path: Path, secret_file: Path) -> None:
    """A StreamCheck open when SIGTERM arrives keeps being answered until the client closes it."""
    running = start_server(tmp_path / "db", secret_file, "--workers", "2", "--grace", "30")
    outgoing: queue.Queue[pb.BatchCheckRequest | None] = queue.Queue()
    request = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)])

    def requests() -> Iterator[pb.BatchCheckRequest]:
        while (item := outgoing.get()) is not None:
            yield item

    with grpc.insecure_channel(running.address) as channel:
        responses = pb_grpc.RiskListStub(channel).StreamCheck(requests(), timeout=60)
        outgoing.put(request)
        next(responses)
        running.process.send_signal(signal.SIGTERM)
        for name in ("reader-1", "reader-2"):
            running.wait_for_log(lambda e, name=name: e.get("event") == "worker_stop_requested"
                                 and e.get("worker") == name)
        outgoing.put(request)
        assert next(responses).list_version == 0
        outgoing.put(None)
        assert list(responses) == []
    assert running.terminate() == 0


def test_a_restarted_worker_keeps_the_start_time_secret_and_settings(tmp_path: Path, secret: NetworkSecret) -> None:
    """A worker restarted after the secret file was removed and --config broken serves with the values read at start."""
    secret_copy = tmp_path / "start.secret"
    write_secret(secret_copy, secret)
    config = tmp_path / "settings.toml"
    config.write_text("max_batch = 2\n")
    running = start_server(tmp_path / "db", secret_copy, "--config", str(config))
    try:
        secret_copy.unlink()
        config.write_text("max_batch = 0\nnot a key = [\n")
        victim = _pids(running)["writer"]
        os.kill(victim, signal.SIGKILL)
        restarted = running.wait_for_log(lambda e: e.get("event") in ("worker_restarted", "worker_restart_failed"))
        assert restarted["event"] == "worker_restarted" and restarted["pid"] != victim, restarted
        version = ingest_phone(running.admin_address, secret)  # the start-time secret's fingerprint
        with grpc.insecure_channel(running.address) as channel:
            response = _check_phone(channel)
            assert response.verdict.listed and response.list_version == version
            three = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)] * 3)
            with pytest.raises(grpc.RpcError) as refused:
                pb_grpc.RiskListStub(channel).BatchCheck(three, timeout=10)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # max_batch 2, as at start
    finally:
        running.terminate()
